import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import pg from 'pg';
import { projectionEngine } from '../engine/projectionEngine.ts';
import { relay } from '../jetstream/relay.ts';
import { stderrLogger } from '../core/logger.ts';
import { discardDeadLetter } from '../postgres/discardDeadLetter.ts';
import { listDeadLetters, type DeadLetterRow } from '../postgres/listDeadLetters.ts';
import { retryDeadLetters, type DeadLetterTarget } from '../postgres/retryDeadLetters.ts';
import { readProcessorRows } from '../postgres/readProcessorRows.ts';
import { listPartitionWeights, storePartitionWeight } from '../postgres/partitionWeights.ts';
import { readSchedulerSnapshots } from '../postgres/schedulerSnapshots.ts';
import { SnapshotEveryMs } from '../router/schedulerUpkeep.ts';
import { printTable } from './printTable.ts';

const usage = `distributary — partitioned projectors for Emmett event stores

Usage:
  distributary run --projectors <module> [--group <name>] [--threads <n>] [--database-url <url>]
                   [--app <name> [--nats <url>] [--host-weight <n>] [--host-id <id>]]
      Run the engine for the projectors the module exports until SIGINT/SIGTERM (--threads: worker
      threads shared by all of them, default the cores less one). With --app, consume
      the tenant streams of that app's relay, sharing the partitions with the other hosts of the
      group (--host-weight: this host's share, default 1); SIGTERM hands its partitions over.
  distributary relay --app <name> [--nats <url>] [--database-url <url>]
      Move the event store's events to one JetStream stream per tenant until SIGINT/SIGTERM.
      The NATS URL defaults to NATS_URL, then nats://127.0.0.1:4222.
  distributary status [--projector <id>] [--database-url <url>]
      Checkpoint, owner (the lease holder when hosts share partitions, and since when) and last update
      per (projector, partition).
  distributary weights set --projector <id> --partition <key> --weight <n> [--database-url <url>]
      Set a partition's weight in fair queuing (default 1); running hosts apply it within a second or so.
  distributary weights list [--projector <id>] [--database-url <url>]
  distributary scheduler snapshot [--projector <id>] [--database-url <url>]
      Per host and thread, partitions with events waiting or in flight (or a weight other than 1):
      queue depth, in flight, weight, batches and events dispatched. Hosts write it every 2 s.
  distributary dead-letters list [--projector <id>] [--partition <key>] [--status <status>] [--database-url <url>]
      Events that could not be applied, with the error. Status: halted, skipped, retry, resolved, discarded.
  distributary dead-letters retry (--id <id> | --projector <id> --partition <key>) [--database-url <url>]
      Apply again: a halted partition resumes from its dead letter; a skipped event is applied on its own.
  distributary dead-letters discard --id <id> --reason <text> [--database-url <url>]
      Give up on one; a partition halted in front of it moves past it.

The database URL defaults to DATABASE_URL.
`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'database-url': { type: 'string' },
    projectors: { type: 'string' },
    app: { type: 'string' },
    nats: { type: 'string' },
    projector: { type: 'string' },
    partition: { type: 'string' },
    group: { type: 'string' },
    weight: { type: 'string' },
    'host-weight': { type: 'string' },
    threads: { type: 'string' },
    'host-id': { type: 'string' },
    status: { type: 'string' },
    id: { type: 'string' },
    reason: { type: 'string' },
    verbose: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

const fail = (message: string): never => {
  process.stderr.write(`distributary: ${message}\n\n${usage}`);
  process.exit(2);
};

const connectionString = (): string => values['database-url'] ?? process.env.DATABASE_URL ?? fail('no database: pass --database-url or set DATABASE_URL');

const moduleUrl = async (path: string): Promise<string> => {
  const url = /^[a-z]+:/.test(path) ? path : pathToFileURL(resolve(path)).href;
  // Node 22.18+ strips TypeScript types itself; older versions need tsx.
  if (/\.[cm]?tsx?$/.test(new URL(url).pathname) && !process.features.typescript) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  return url;
};

const natsServers = (): string => values.nats ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

const run = async (): Promise<void> => {
  const projectors = values.projectors ?? fail('run needs --projectors <module>');
  const weight = values['host-weight'] === undefined ? undefined : Number(values['host-weight']);
  if (weight !== undefined && !(weight >= 0)) fail(`--host-weight must be a number >= 0, got '${values['host-weight']}'`);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) fail(`--threads must be a positive integer, got '${values.threads}'`);
  const engine = projectionEngine({
    connectionString: connectionString(),
    projectors: await moduleUrl(projectors),
    hostId: values['host-id'],
    threads,
    lease: { group: values.group, hostWeight: weight },
    transport: values.app === undefined ? undefined : { type: 'jetstream', servers: natsServers(), app: values.app },
    logger: stderrLogger(values.verbose ?? true),
  });
  await engine.start();
  const shutdown = (): void => void engine.stop().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
};

const runRelay = async (): Promise<void> => {
  const running = relay({
    connectionString: connectionString(),
    nats: { servers: natsServers() },
    app: values.app ?? fail('relay needs --app <name>'),
    logger: stderrLogger(values.verbose ?? true),
  });
  await running.start();
  const shutdown = (): void => void running.stop().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
};

const withDatabase = async (work: (db: pg.Pool) => Promise<void>): Promise<void> => {
  const db = new pg.Pool({ connectionString: connectionString(), max: 1 });
  try {
    await work(db);
  } finally {
    await db.end();
  }
};

const status = (): Promise<void> =>
  withDatabase(async (db) => {
    const rows = await readProcessorRows(db, values.projector === undefined ? [] : [values.projector]);
    printTable(
      ['projector', 'partition', 'checkpoint', 'owner', 'since', 'status', 'updated'],
      rows.map((row) => [
        row.processorId,
        row.partition,
        row.checkpoint.toString(),
        row.lease?.host ?? row.owner ?? '',
        row.lease === null ? '' : `${row.lease.since.toISOString()} (epoch ${row.lease.epoch})`,
        row.status,
        row.updatedAt.toISOString(),
      ]),
    );
  });

const statuses = ['halted', 'skipped', 'retry', 'resolved', 'discarded'] as const;
const parseStatus = (value: string | undefined): DeadLetterRow['status'] | undefined => {
  if (value === undefined) return undefined;
  const status = statuses.find((s) => s === value);
  return status ?? fail(`--status must be one of ${statuses.join(', ')}, got '${value}'`);
};

const deadLetterTarget = (): DeadLetterTarget => {
  if (values.id !== undefined) return { id: values.id };
  if (values.projector !== undefined && values.partition !== undefined) return { processorId: values.projector, partition: values.partition };
  return fail('retry needs --id <id>, or --projector <id> and --partition <key>');
};

const deadLetterCommands: Record<string, (db: pg.Pool) => Promise<void>> = {
  async list(db) {
    const rows = await listDeadLetters(db, { processorId: values.projector, partition: values.partition, status: parseStatus(values.status) });
    printTable(
      ['id', 'projector', 'partition', 'position', 'type', 'attempts', 'status', 'error'],
      rows.map((row) => [row.id, row.processorId, row.partition ?? '(no key)', row.globalPosition.toString(), row.messageType ?? '', String(row.attempts), row.status, row.errorMessage]),
    );
  },
  async retry(db) {
    const count = await retryDeadLetters(db, deadLetterTarget());
    process.stdout.write(`${count} dead letter(s) marked for retry; running engines pick them up within a mark interval\n`);
  },
  async discard(db) {
    const id = values.id ?? fail('discard needs --id <id>');
    await discardDeadLetter(db, { id, reason: values.reason ?? fail('discard needs --reason <text>') });
    process.stdout.write(`dead letter ${id} discarded\n`);
  },
};

const deadLetters = (): Promise<void> => {
  const command = deadLetterCommands[positionals[1] ?? ''] ?? fail(`unknown dead-letters command '${positionals[1] ?? ''}'`);
  return withDatabase(command);
};

const weightCommands: Record<string, (db: pg.Pool) => Promise<void>> = {
  async set(db) {
    const weight = Number(values.weight ?? fail('weights set needs --weight <n>'));
    await storePartitionWeight(db, {
      processorId: values.projector ?? fail('weights set needs --projector <id>'),
      partition: values.partition ?? fail('weights set needs --partition <key>'),
      weight,
    }).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
    process.stdout.write(`weight of ${values.projector}/${values.partition} set to ${weight}\n`);
  },
  async list(db) {
    const rows = await listPartitionWeights(db, values.projector);
    printTable(['projector', 'partition', 'weight'], rows.map((row) => [row.processorId, row.partition, String(row.weight)]));
  },
};

const weights = (): Promise<void> => {
  const command = weightCommands[positionals[1] ?? ''] ?? fail(`unknown weights command '${positionals[1] ?? ''}'`);
  return withDatabase(command);
};

const scheduler = (): Promise<void> => {
  if (positionals[1] !== 'snapshot') fail(`unknown scheduler command '${positionals[1] ?? ''}'`);
  return withDatabase(async (db) => {
    const threads = await readSchedulerSnapshots(db, { processorId: values.projector, freshMs: 10 * SnapshotEveryMs });
    printTable(
      ['host', 'projector', 'thread', 'partition', 'state', 'queued', 'in flight', 'weight', 'batches', 'events'],
      threads.flatMap((t) =>
        t.partitions.map((p) => [t.hostId, t.processorId, String(t.thread), p.partition, p.state, String(p.queued), String(p.inFlight), String(p.weight), String(p.dispatched), String(p.dispatchedEvents)]),
      ),
    );
    process.stdout.write(`${threads.length} thread(s) reporting; partitions idle at weight 1 are left out\n`);
  });
};

const commands: Record<string, () => Promise<void>> = { run, relay: runRelay, status, weights, scheduler, 'dead-letters': deadLetters };

if (values.help === true || positionals[0] === undefined) {
  process.stdout.write(usage);
} else {
  const command = commands[positionals[0]] ?? fail(`unknown command '${positionals[0]}'`);
  await command().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
}
