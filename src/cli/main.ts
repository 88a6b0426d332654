import { tenantCommand } from './tenantCommand.ts';
import { versionsCommand } from './versionsCommand.ts';
import { parseArgs } from 'node:util';
import { flagSpec } from './flags.ts';
import { natsConfigCommand } from './natsConfigCommand.ts';
import { outboxCommand } from './outboxCommand.ts';
import { natsCredentialsOf } from './natsFlags.ts';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import pg from 'pg';
import { projectionEngine } from '../engine/projectionEngine.ts';
import type { ProjectionEngineOptions } from '../engine/options.ts';
import { relay } from '../jetstream/relay.ts';
import { stderrLogger } from '../logging/pinoLogger.ts';
import { discardDeadLetter } from '../postgres/discardDeadLetter.ts';
import { listDeadLetters, type DeadLetterRow } from '../postgres/listDeadLetters.ts';
import { retryDeadLetters, type DeadLetterTarget } from '../postgres/retryDeadLetters.ts';
import { listPartitionWeights, storePartitionWeight } from '../postgres/partitionWeights.ts';
import { readSchedulerSnapshots } from '../postgres/schedulerSnapshots.ts';
import { SnapshotEveryMs } from '../router/schedulerUpkeep.ts';
import { DistributaryError } from '../core/errors.ts';
import { isKnownProjector } from '../postgres/isKnownProjector.ts';
import { readRebuildProgress } from '../postgres/readRebuildProgress.ts';
import { readStatus } from '../status/readStatus.ts';
import { rebuildView } from '../status/rebuildView.ts';
import { catchUpProgress } from './catchUpProgress.ts';
import { limitHeapGrowth } from './hostHeap.ts';
import { printTable } from './printTable.ts';
import { rebuildHeaders, rebuildRow } from './rebuildTable.ts';
import { requestAndFollowRebuild } from './rebuildCommand.ts';
import { refreshEvery } from './refreshEvery.ts';
import { statusReport } from './statusReport.ts';
import { commandUsage, isCommand, usage, usageOf, type CommandName } from './usage.ts';

/** Exits 2 with the message and the usage of the command it is about (all of it when none). */
const fail = (message: string, command?: string): never => {
  process.stderr.write(`distributary: ${message}\n\n${isCommand(command) ? usageOf(command) : usage}`);
  process.exit(2);
};

const parse = () => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: flagSpec,
    });
  } catch (error) {
    // parseArgs names the option ("Unknown option '--bogus'"); its advice about '--' is noise here.
    const message = error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error);
    return fail(message.charAt(0).toLowerCase() + message.slice(1), process.argv.slice(2).find(isCommand));
  }
};

const { positionals, values } = parse();
const commandName = positionals[0];

type Flag = keyof typeof values;

/** A number flag, checked and named when wrong: `--limit must be an integer >= 0, got 'x'`. */
const numberFlag = (flag: Flag, rule: { integer?: boolean; min: number; above?: boolean; max?: number }): number | undefined => {
  const raw = values[flag];
  if (raw === undefined || typeof raw !== 'string') return undefined;
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  const ok =
    Number.isFinite(value) &&
    (rule.integer !== true || Number.isInteger(value)) &&
    (rule.above === true ? value > rule.min : value >= rule.min) &&
    (rule.max === undefined || value <= rule.max);
  if (ok) return value;
  const range = rule.max !== undefined ? `from ${rule.min} to ${rule.max}` : `${rule.above === true ? '>' : '>='} ${rule.min}`;
  return fail(`--${flag} must be ${rule.integer === true ? 'an integer' : 'a number'} ${range}, got '${raw}'`, commandName);
};

const portFlag = (flag: Flag): number | undefined => numberFlag(flag, { integer: true, min: 0, max: 65_535 });

const connectionString = (): string =>
  values['database-url'] ?? process.env.DATABASE_URL ?? fail('no database: pass --database-url or set DATABASE_URL', commandName);

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

/** Ends on the first SIGINT or SIGTERM with `stop`, then exits 0. */
const untilSignal = (stop: () => Promise<void>): void => {
  const shutdown = (): void => void stop().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
};

/** What `run` serves over HTTP besides doing its work: metrics and this host's status, the dashboard. */
const servedByRun = (): Pick<ProjectionEngineOptions, 'metrics' | 'dashboard'> => {
  const metricsPort = portFlag('metrics-port');
  const dashboardPort = portFlag('dashboard-port');
  if (metricsPort === undefined && values['metrics-host'] !== undefined) fail('--metrics-host needs --metrics-port', 'run');
  if (dashboardPort === undefined && values['dashboard-token'] !== undefined) fail('--dashboard-token needs --dashboard-port', 'run');
  return {
    ...(metricsPort === undefined ? {} : { metrics: { port: metricsPort, host: values['metrics-host'] ?? '127.0.0.1' } }),
    ...(dashboardPort === undefined ? {} : { dashboard: { port: dashboardPort, host: '127.0.0.1', token: values['dashboard-token'] } }),
  };
};

const run = async (): Promise<void> => {
  limitHeapGrowth();
  const projectors = values.projectors ?? fail('run needs --projectors <module>', 'run');
  const hostWeight = numberFlag('host-weight', { min: 0 });
  const threads = numberFlag('threads', { integer: true, min: 1 });
  const served = servedByRun();
  const database = connectionString();
  const progress = catchUpProgress({ terminal: process.stderr.isTTY, out: process.stderr, lineEveryMs: 5000, tickMs: 250 });
  const engine = projectionEngine({
    connectionString: database,
    projectors: await moduleUrl(projectors),
    hostId: values['host-id'],
    threads,
    lease: { group: values.group, hostWeight },
    transport: values.app === undefined ? undefined : { type: 'jetstream', servers: natsServers(), app: values.app, ...natsCredentialsOf(values) },
    logger: progress.logger(stderrLogger(values.verbose === true)),
    ...served,
  });
  await engine.start();
  const metricsUrl = engine.metricsUrl();
  const dashboardUrl = engine.dashboardUrl();
  if (metricsUrl !== undefined) process.stderr.write(`metrics at ${metricsUrl}/metrics, this host's status at ${metricsUrl}/status\n`);
  if (dashboardUrl !== undefined) process.stderr.write(`dashboard at ${dashboardUrl}\n`);
  const db = new pg.Pool({ connectionString: database, max: 1 });
  db.on('error', () => undefined);
  untilSignal(async () => {
    progress.stop();
    await engine.stop();
    await db.end();
  });
  // Showing progress is a courtesy: when it fails, the engine keeps running.
  await progress.follow(engine, db).catch((error: unknown) => process.stderr.write(`cannot show progress: ${error instanceof Error ? error.message : String(error)}\n`));
};

const runRelay = async (): Promise<void> => {
  limitHeapGrowth();
  const running = relay({
    connectionString: connectionString(),
    nats: { servers: natsServers(), ...natsCredentialsOf(values) },
    app: values.app ?? fail('relay needs --app <name>', 'relay'),
    logger: stderrLogger(values.verbose === true),
    ...(portFlag('metrics-port') === undefined ? {} : { metrics: { port: portFlag('metrics-port')!, host: values['metrics-host'] ?? '127.0.0.1' } }),
  });
  await running.start();
  const metricsUrl = running.metricsUrl();
  if (metricsUrl !== undefined) process.stderr.write(`metrics at ${metricsUrl}/metrics\n`);
  untilSignal(() => running.stop());
};

const runDashboard = async (): Promise<void> => {
  const { dashboardServer } = await import('../dashboard/dashboardServer.ts');
  const server = await dashboardServer({
    connectionString: connectionString(),
    port: portFlag('port') ?? 4400,
    host: values.host ?? '127.0.0.1',
    token: values.token,
  });
  process.stdout.write(`dashboard at ${server.url}${values.token === undefined ? ' (read only: --token enables retry and discard)' : ''}\n`);
  untilSignal(() => server.close());
};

/** PostgreSQL's "undefined table": nothing of distributary was ever started against this database. */
const describeError = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && 'code' in error && error.code === '42P01')
    return `${message}: no engine or relay has run against this database yet (they create distributary's tables when they start)`;
  return message;
};

const withDatabase = async (work: (db: pg.Pool) => Promise<void>): Promise<void> => {
  // A database that does not answer is an error to show, not a command that hangs.
  const db = new pg.Pool({ connectionString: connectionString(), max: 1, connectionTimeoutMillis: 10_000 });
  db.on('error', () => undefined);
  try {
    await work(db);
  } finally {
    await db.end();
  }
};

const status = (): Promise<void> => {
  const limit = numberFlag('limit', { integer: true, min: 0 }) ?? 50;
  const intervalSeconds = numberFlag('interval', { min: 0, above: true });
  if (intervalSeconds !== undefined && values.watch !== true) fail('--interval needs --watch', 'status');
  const json = values.json === true;
  const filter = { processorId: values.projector };
  return withDatabase(async (db) => {
    if (values.watch !== true) {
      const model = await readStatus(db, filter);
      process.stdout.write(json ? `${JSON.stringify(model, null, 2)}\n` : `${statusReport(model, { limit }).join('\n')}\n`);
      return;
    }
    await refreshEvery({
      intervalMs: (intervalSeconds ?? 2) * 1000,
      redraw: process.stdout.isTTY && !json,
      out: process.stdout,
      frame: async () => {
        const model = await readStatus(db, filter);
        return json ? [JSON.stringify(model)] : statusReport(model, { limit });
      },
      failed: (error) => {
        const message = error instanceof Error ? error.message : String(error);
        return json ? [JSON.stringify({ takenAt: new Date().toISOString(), error: message })] : [`status at ${new Date().toISOString()}: cannot read it: ${message}`];
      },
    });
  });
};

const statuses = ['halted', 'skipped', 'retry', 'resolved', 'discarded'] as const;
const parseStatus = (value: string | undefined): DeadLetterRow['status'] | undefined => {
  if (value === undefined) return undefined;
  const found = statuses.find((s) => s === value);
  return found ?? fail(`--status must be one of ${statuses.join(', ')}, got '${value}'`, 'dead-letters');
};

const deadLetterTarget = (): DeadLetterTarget => {
  if (values.id !== undefined) return { id: values.id };
  if (values.projector !== undefined && values.partition !== undefined) return { processorId: values.projector, partition: values.partition };
  return fail('retry needs --id <id>, or --projector <id> and --partition <key>', 'dead-letters');
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
    const id = values.id ?? fail('discard needs --id <id>', 'dead-letters');
    await discardDeadLetter(db, { id, reason: values.reason ?? fail('discard needs --reason <text>', 'dead-letters') });
    process.stdout.write(`dead letter ${id} discarded\n`);
  },
};

const deadLetters = (): Promise<void> => {
  const command = deadLetterCommands[positionals[1] ?? ''] ?? fail(`unknown dead-letters command '${positionals[1] ?? ''}'`, 'dead-letters');
  return withDatabase(command);
};

const weightCommands: Record<string, (db: pg.Pool) => Promise<void>> = {
  async set(db) {
    const weight = numberFlag('weight', { min: 0, above: true }) ?? fail('weights set needs --weight <n>', 'weights');
    await storePartitionWeight(db, {
      processorId: values.projector ?? fail('weights set needs --projector <id>', 'weights'),
      partition: values.partition ?? fail('weights set needs --partition <key>', 'weights'),
      weight,
    });
    process.stdout.write(`weight of ${values.projector}/${values.partition} set to ${weight}\n`);
  },
  async list(db) {
    const rows = await listPartitionWeights(db, values.projector);
    printTable(['projector', 'partition', 'weight'], rows.map((row) => [row.processorId, row.partition, String(row.weight)]));
  },
};

const weights = (): Promise<void> => {
  const command = weightCommands[positionals[1] ?? ''] ?? fail(`unknown weights command '${positionals[1] ?? ''}'`, 'weights');
  return withDatabase(command);
};

const scheduler = (): Promise<void> => {
  if (positionals[1] !== 'snapshot') fail(`unknown scheduler command '${positionals[1] ?? ''}'`, 'scheduler');
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

/** Refuses the flags of the other form of a command: `rebuild list` and `rebuild <projector>` take different ones. */
const refuseFlags = (form: string, flags: readonly Flag[]): void => {
  const given = flags.filter((flag) => values[flag] !== undefined);
  if (given.length > 0) fail(`${form} does not take ${given.map((flag) => `--${flag}`).join(', ')}`, 'rebuild');
};

const rebuildList = (): Promise<void> => {
  if (positionals.length > 2) fail(`rebuild list takes no more arguments, got '${positionals.slice(2).join(' ')}'`, 'rebuild');
  refuseFlags('rebuild list', ['partition', 'no-wait', 'timeout']);
  const limit = numberFlag('limit', { integer: true, min: 0 }) ?? 50;
  return withDatabase(async (db) => {
    const rows = await readRebuildProgress(db, { processorId: values.projector, limit: limit + 1 });
    printTable(rebuildHeaders, rows.slice(0, limit).map((row) => rebuildRow(rebuildView(row))));
    if (rows.length > limit) process.stdout.write(`... and older ones (a larger --limit lists them)\n`);
  });
};

const rebuild = (): Promise<void> => {
  const processorId = positionals[1] ?? fail('rebuild needs a projector id (or list)', 'rebuild');
  if (processorId === 'list') return rebuildList();
  if (positionals.length > 2) fail(`rebuild takes one projector id, got '${positionals.slice(1).join(' ')}'`, 'rebuild');
  refuseFlags('rebuild <projector>', ['projector', 'limit']);
  const wait = values['no-wait'] !== true;
  const timeoutSeconds = numberFlag('timeout', { min: 0, above: true });
  if (!wait && timeoutSeconds !== undefined) fail('--timeout is how long to wait: it does not go with --no-wait', 'rebuild');
  const partition = values.partition ?? null;
  return withDatabase(async (db) => {
    if (!(await isKnownProjector(db, processorId)))
      throw new DistributaryError(`no projector '${processorId}' has run against this database (it has no status, checkpoints or marks): check the id`);
    await requestAndFollowRebuild({ db, processorId, partition, wait, timeoutSeconds });
  });
};

const tenant = (): Promise<void> =>
  tenantCommand({
    args: positionals.slice(1),
    yes: values.yes === true,
    purgeReadModels: values['purge-read-models'] === true,
    timeoutMs: (numberFlag('timeout', { min: 0 }) ?? 30) * 1000,
    connectionString: connectionString(),
    fail: (message) => fail(message, 'tenant'),
  });

const versions = (): Promise<void> =>
  versionsCommand({ args: positionals.slice(1), yes: values.yes === true, connectionString: connectionString(), fail: (message) => fail(message, 'versions') });

const outboxOperations = (): Promise<void> =>
  outboxCommand({ args: positionals.slice(1), id: values.id, connectionString: connectionString(), fail: (message) => fail(message, 'outbox') });

const natsConfiguration = async (): Promise<void> =>
  natsConfigCommand({
    app: values.app ?? fail('nats-config needs --app <name>', 'nats-config'),
    out: values.out ?? 'nats',
    tenants: values.tenant ?? [],
    storeDir: values['store-dir'],
    nats: values.nats === undefined ? undefined : { servers: values.nats, credentials: natsCredentialsOf(values) },
    projectorsUrl: values.projectors === undefined ? undefined : await moduleUrl(values.projectors),
    connectionString: values['database-url'] ?? process.env.DATABASE_URL,
  });

const commands: Record<CommandName, () => Promise<void>> = {
  run,
  relay: runRelay,
  status,
  dashboard: runDashboard,
  weights,
  scheduler,
  'dead-letters': deadLetters,
  rebuild,
  tenant,
  versions,
  'nats-config': natsConfiguration,
  outbox: outboxOperations,
};

if (values.help === true || commandName === undefined) {
  process.stdout.write(isCommand(commandName) ? usageOf(commandName) : usage);
} else if (!isCommand(commandName)) {
  fail(`unknown command '${commandName}'`);
} else {
  const takes: readonly string[] = commandUsage[commandName].flags;
  const refused = Object.keys(values).filter((flag) => flag !== 'database-url' && !takes.includes(flag));
  if (refused.length > 0) fail(`${commandName} does not take ${refused.map((flag) => `--${flag}`).join(', ')}`, commandName);
  await commands[commandName]().catch((error: unknown) => {
    // Not a usage error: the message alone, and exit 1.
    process.stderr.write(`distributary ${commandName}: ${describeError(error)}\n`);
    process.exit(1);
  });
}
