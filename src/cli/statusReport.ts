import type { HostView, PartitionView, RelayView, StatusModel } from '../status/statusModel.ts';
import { duration } from './duration.ts';
import { formatTable } from './printTable.ts';
import { rebuildHeaders, rebuildRow } from './rebuildTable.ts';

const count = (n: number): string => n.toLocaleString('en-US');

const megabytes = (bytes: number): string => (bytes === 0 ? '' : `${(bytes / 2 ** 20).toFixed(1)} MB`);

/** Alive, stopped cleanly, or silent: a host that stopped writing heartbeats without saying so (killed, hung, cut off). */
const liveness = (view: { alive: boolean; stoppedAt?: string; heartbeatAgeSeconds: number }): string =>
  view.alive ? 'alive' : view.stoppedAt !== undefined ? 'stopped' : 'silent';

const hostRow = (host: HostView): string[] => [
  host.hostId,
  host.group,
  host.role,
  host.transport,
  liveness(host),
  duration(host.heartbeatAgeSeconds),
  String(host.threads),
  String(host.partitions),
  megabytes(host.rssBytes),
  host.startedAt,
];

const partitionRow = (p: PartitionView, withErrors: boolean): string[] => [
  p.processorId,
  p.partition,
  count(p.lagEvents),
  p.owner?.hostId ?? '',
  p.owner?.leasedSince === undefined ? '' : `${p.owner.leasedSince} (epoch ${p.owner.leaseEpoch})`,
  p.owner === null ? '' : String(p.owner.thread),
  duration(p.lagSeconds),
  p.state,
  p.checkpoint ?? '',
  p.head ?? '',
  count(p.deadLetters),
  String(p.weight),
  ...(withErrors ? [p.lastError ?? ''] : []),
];

const relayRow = (relay: RelayView): string[] => [
  relay.app,
  relay.hostId,
  liveness(relay),
  relay.position ?? '',
  relay.storeHead ?? '',
  count(relay.lagEvents),
  duration(relay.lagSeconds),
  String(relay.streams),
  count(relay.published),
  duration(relay.heartbeatAgeSeconds),
];

const ForgetHostsAfterSeconds = 3600;

const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`;

/** The first line: when the status was taken (on the database's clock) and what needs a look. */
const summary = (model: StatusModel): string => {
  const alive = model.hosts.filter((h) => h.alive).length;
  const behind = model.partitions.filter((p) => p.lagEvents > 0).length;
  const unowned = model.partitions.filter((p) => p.state === 'no live owner').length;
  const halted = model.partitions.filter((p) => p.state === 'halted').length;
  const notes = [
    behind > 0 ? `${count(behind)} behind` : '',
    unowned > 0 ? `${count(unowned)} with no live owner` : '',
    halted > 0 ? `${count(halted)} halted` : '',
  ].filter((note) => note !== '');
  const partitions = `${plural(model.partitions.length, 'partition')}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
  return `status at ${model.takenAt}: ${plural(model.hosts.length, 'host')} (${count(alive)} alive), ${plural(model.projectors.length, 'projector')}, ${partitions}, ${plural(model.relays.length, 'relay')}`;
};

/** A titled table, or one line saying there is nothing. */
const section = (title: string, headers: string[], rows: string[][]): string[] => (rows.length === 0 ? [`${title}: none`] : [title, ...formatTable(headers, rows)]);

/**
 * The status model as text for operators: hosts, projectors, the `limit` partitions with the most lag
 * (saying how many more there are), relays, and rebuilds when there are any. One string per line.
 */
export const statusReport = (model: StatusModel, options: { limit: number }): string[] => {
  const shown = model.partitions.slice(0, options.limit);
  const withErrors = shown.some((p) => p.lastError !== undefined);
  const more = model.partitions.length - shown.length;
  // Every restart of a host adds one under a new id; the ones long gone and owning nothing are counted, not listed.
  const hosts = model.hosts.filter((h) => h.alive || h.heartbeatAgeSeconds < ForgetHostsAfterSeconds || model.partitions.some((p) => p.owner?.hostId === h.hostId));
  const gone = model.hosts.length - hosts.length;
  return [
    summary(model),
    '',
    ...section('hosts', ['host', 'group', 'role', 'transport', 'state', 'heartbeat age', 'threads', 'partitions', 'rss', 'started'], hosts.map(hostRow)),
    ...(gone > 0 ? [`... and ${plural(gone, 'host')} stopped over an hour ago, owning no partition (--json lists them)`] : []),
    '',
    ...section(
      'projectors',
      ['projector', 'partitions', 'lag events', 'max lag', 'applied', 'dead letters', 'states'],
      model.projectors.map((p) => [
        p.processorId,
        count(p.partitions),
        count(p.lagEvents),
        duration(p.maxLagSeconds),
        count(p.applied),
        count(p.deadLetters),
        Object.entries(p.states)
          .map(([state, n]) => `${state} ${n}`)
          .join(', '),
      ]),
    ),
    '',
    ...(shown.length === 0 && more > 0
      ? [`partitions: ${count(more)} not listed (--limit ${model.partitions.length} lists them)`]
      : section(
          'partitions, most lag first',
          ['projector', 'partition', 'lag events', 'owner', 'leased since', 'thread', 'lag', 'state', 'checkpoint', 'head', 'dead letters', 'weight', ...(withErrors ? ['last error'] : [])],
          shown.map((p) => partitionRow(p, withErrors)),
        )),
    ...(shown.length > 0 && more > 0 ? [`... and ${plural(more, 'more partition')} (--limit ${model.partitions.length} shows all)`] : []),
    '',
    ...section('relays', ['app', 'host', 'state', 'position', 'store head', 'lag events', 'lag', 'streams', 'published', 'heartbeat age'], model.relays.map(relayRow)),
    ...(model.rebuilds.length === 0 ? [] : ['', ...section('rebuilds, open or finished in the last hour', [...rebuildHeaders], model.rebuilds.map(rebuildRow))]),
    ...(model.versions.length === 0
      ? []
      : ['', ...section('versions', ['projector', 'version', 'state', 'runs as', 'read model', 'current since'], model.versions.map((v) => [v.processorId, String(v.version), v.state, v.runtimeId, v.readModel ?? '', v.state === 'current' ? (v.switchedAt ?? '') : '']))]),
  ];
};
