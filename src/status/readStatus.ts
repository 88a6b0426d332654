import type pg from 'pg';
import { readStatusRows } from '../postgres/readStatusRows.ts';
import { readModelVersions } from '../postgres/readModelVersions.ts';
import { rebuildView } from './rebuildView.ts';
import type { HostView, PartitionHealth, PartitionView, ProjectorView, RelayView, StatusModel } from './statusModel.ts';

/** Finished rebuilds stay in the status this long. */
export const RebuildsShownForSeconds = 3600;

/** A partition applying events whose oldest waiting event is older than this is catching up, not just running. */
export const CatchingUpAfterSeconds = 5;

/** The health readers show: the owner's liveness first, then what it reported, then how far behind it is. */
export const partitionHealth = (reported: string, alive: boolean, lagEvents: number, lagSeconds: number): PartitionHealth => {
  if (!alive) return 'no live owner';
  if (reported === 'halted' || reported === 'fenced' || reported === 'retrying') return reported;
  if (lagEvents === 0) return 'idle';
  return lagSeconds > CatchingUpAfterSeconds ? 'catching-up' : 'running';
};

/** Most lag first: in seconds, then in events, then by name. */
const byLag = (a: PartitionView, b: PartitionView): number =>
  b.lagSeconds - a.lagSeconds || b.lagEvents - a.lagEvents || a.processorId.localeCompare(b.processorId) || a.partition.localeCompare(b.partition);

const summarize = (partitions: readonly PartitionView[]): ProjectorView[] => {
  const projectors = new Map<string, ProjectorView>();
  for (const p of partitions) {
    let view = projectors.get(p.processorId);
    if (view === undefined) {
      view = { processorId: p.processorId, partitions: 0, lagEvents: 0, maxLagSeconds: 0, applied: 0, deadLetters: 0, states: {} };
      projectors.set(p.processorId, view);
    }
    view.partitions++;
    view.lagEvents += p.lagEvents;
    view.maxLagSeconds = Math.max(view.maxLagSeconds, p.lagSeconds);
    view.applied += p.applied;
    view.deadLetters += p.deadLetters;
    view.states[p.state] = (view.states[p.state] ?? 0) + 1;
  }
  return [...projectors.values()].sort((a, b) => a.processorId.localeCompare(b.processorId));
};

const seconds = (value: number | null): number => Math.round((value ?? 0) * 1000) / 1000;

/**
 * The status model as engines and relays last wrote it, judged by their heartbeats: what the CLI,
 * the HTTP endpoints and the dashboard show. Works from any machine with the database; no engine
 * needs to run in the process.
 */
export const readStatus = async (db: pg.Pool, options: { processorId?: string } = {}): Promise<StatusModel> => {
  const rows = await readStatusRows(db, { ...options, rebuildsFinishedWithinSeconds: RebuildsShownForSeconds });
  const owned = new Map<string, number>();
  const partitions = rows.partitions
    .map((row): PartitionView => {
      const lagEvents = Number(row.lag_events);
      const lagSeconds = lagEvents === 0 ? 0 : seconds(row.lag_seconds);
      if (row.alive) owned.set(row.host_id, (owned.get(row.host_id) ?? 0) + 1);
      return {
        processorId: row.processor_id,
        partition: row.partition,
        checkpoint: row.checkpoint,
        head: row.head,
        lagEvents,
        lagSeconds,
        state: partitionHealth(row.state, row.alive, lagEvents, lagSeconds),
        owner: {
          hostId: row.host_id,
          thread: row.thread,
          alive: row.alive,
          heartbeatAgeSeconds: seconds(row.heartbeat_age),
          ...(row.leased_since === null ? {} : { leasedSince: row.leased_since.toISOString(), leaseEpoch: Number(row.lease_epoch) }),
        },
        applied: Number(row.applied),
        deadLetters: row.dead_letters,
        weight: row.weight,
        ...(row.last_error === null ? {} : { lastError: row.last_error }),
        updatedAt: row.updated_at.toISOString(),
      };
    })
    .sort(byLag);
  const hosts = rows.hosts.map(
    (row): HostView => ({
      hostId: row.host_id,
      group: row.group_name,
      role: row.alive ? row.role : 'stopped',
      transport: row.transport === 'jetstream' ? 'jetstream' : 'in-process',
      threads: row.threads,
      partitions: owned.get(row.host_id) ?? 0,
      rssBytes: Number(row.rss_bytes),
      alive: row.alive,
      heartbeatAgeSeconds: seconds(row.heartbeat_age),
      startedAt: row.started_at.toISOString(),
      ...(row.stopped_at === null ? {} : { stoppedAt: row.stopped_at.toISOString() }),
    }),
  );
  const relays = rows.relays.map(
    (row): RelayView => ({
      app: row.app,
      hostId: row.host_id,
      position: row.position,
      storeHead: row.store_head,
      lagEvents: Number(row.lag_events),
      lagSeconds: seconds(row.lag_seconds),
      streams: row.streams,
      published: Number(row.published),
      alive: row.alive,
      heartbeatAgeSeconds: seconds(row.heartbeat_age),
      ...(row.stopped_at === null ? {} : { stoppedAt: row.stopped_at.toISOString() }),
    }),
  );
  // Versions are kept under the declared id: `orders@v2` asks about `orders`.
  const stored = await readModelVersions(db, options.processorId?.replace(/@v\d+$/, ''));
  const versions = stored
    .filter((row) => stored.some((other) => other.processorId === row.processorId && other.version !== row.version && other.state !== 'dropped'))
    .map(({ processorId, version, state, runtimeId, readModel, switchedAt }) => ({ processorId, version, state, runtimeId, readModel, switchedAt: switchedAt?.toISOString() ?? null }));
  return { takenAt: rows.takenAt.toISOString(), hosts, projectors: summarize(partitions), partitions, relays, rebuilds: rows.rebuilds.map(rebuildView), versions };
};
