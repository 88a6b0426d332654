import { availableParallelism } from 'node:os';
import { natsCredentialKeys, resolveNatsCredentials, type NatsCredentials, type ResolvedNatsCredentials } from '../jetstream/natsCredentials.ts';
import { ConfigurationError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { asLogger, stderrLogger, type AnyLogger } from '../logging/pinoLogger.ts';
import { DefaultTopPartitions } from '../telemetry/engineMetrics.ts';
import { checkApp } from '../jetstream/streamNames.ts';
import { DefaultAckWaitMs, DefaultIdlePollMs, DefaultLeaseTimeoutMs, DefaultReadBatchSize, DefaultThreadHeapMb, defaultHostId } from '../options/defaults.ts';
import { optionChecks } from '../options/optionChecks.ts';

export type ProjectionEngineOptions = {
  /** PostgreSQL connection string of the Emmett event store; read models live in the same database. */
  connectionString: string;
  /** Module exporting the partitioned projectors; imported here and in every worker thread. */
  projectors: URL | string;
  /** Names this host in leases, checkpoints and status. @default `${hostname}-${pid}-${random}` */
  hostId?: string;
  /**
   * The engine's worker threads, shared by all its projectors (each thread loads the projectors
   * module once and runs every projector's partitions placed on it). The default leaves a core to the
   * engine's main thread, which reads and routes, and to the database that usually shares a small
   * machine: on two cores one thread with several transactions open is faster than two, and uses
   * less memory. @default os.availableParallelism() - 1, at least 1
   */
  threads?: number;
  /**
   * The most each thread's old generation may grow to, in MB. Where the limit is high (Node sets it
   * from the machine's memory), V8 lets a heap grow to four times what survives a collection before
   * collecting again; at 512 MB or less it grows by less, and a thread stays small. Raise it for
   * projections that keep much in memory. @default 512
   */
  threadHeapMb?: number;
  lease?: {
    /**
     * Hosts of one group work together: in-process, one of them is the active reader and the others
     * stand by; over JetStream, they share the partitions. @default 'default'
     */
    group?: string;
    /**
     * A silent holder loses its lease after this long; renewed every third of it (every sixth over JetStream). In-process the reader
     * lease counts whole seconds. Over JetStream it is also how long a host may stay silent before the
     * others take its partitions. @default 10000
     */
    timeoutMs?: number;
    /** Over JetStream: this host's share of the partitions relative to the others (0 takes none). @default 1 */
    hostWeight?: number;
  };
  reader?: {
    /** Events read from the store per query. @default 1000 */
    batchSize?: number;
    /** Longest sleep when idle and no append notification arrives. @default 500 */
    idlePollMs?: number;
    /** Routed events not yet committed, across partitions, before the reader pauses. @default 20000 */
    maxPendingEvents?: number;
    /**
     * Routed events not yet committed for one partition before the reader stops routing to it; the
     * partition's later events are read again for it once it has worked off half of them, so one slow
     * or flooded partition neither grows memory nor holds up the others. @default 5000
     */
    maxPartitionPending?: number;
    /** How often the reader's low-water mark is stored. @default 1000 */
    markIntervalMs?: number;
  };
  /**
   * Where events come from. `in-process` reads the store. `jetstream` consumes the per-tenant streams a
   * `relay` of the same `app` fills, after backfilling from the store what the streams do not hold.
   * @default { type: 'in-process' }
   */
  transport?:
    | { type: 'in-process' }
    | ({
        type: 'jetstream';
        servers: string | string[];
        app: string;
        /** A delivered message not acked this long is delivered again; keep it above the projectors' `batchTimeoutMs`. @default 60000 */
        ackWaitMs?: number;
        /**
         * Partitions of this host consuming their stream at once; the others wait their turn, and while
         * they wait a partition with nothing left to do sleeps at once. @default 256
         */
        maxConsumingPartitions?: number;
        /** Messages received and not committed yet, across this host's partitions, before no more partitions open their consumers. @default 20000 */
        maxPendingMessages?: number;
      } & NatsCredentials);
  /** Creates Emmett's schema and distributary's tables when missing. @default true */
  migrate?: boolean;
  /** @default warnings and errors to stderr */
  /** A pino logger (the app's own) or any with info/warn/error(message, details). @default JSON lines (pino) to stderr, warnings and errors only */
  logger?: AnyLogger;
  /**
   * Serves Prometheus metrics (`GET /metrics`) and this host's live status (`GET /status`). Without
   * it the metrics are still kept: read `engine.metrics()` to merge them into the app's registry.
   */
  metrics?: {
    /** 0 picks a free port (`engine.metricsUrl()` says which). */
    port: number;
    /** @default '127.0.0.1' */
    host?: string;
    /** Partitions exported with lag series of their own: the ones furthest behind. @default 20 */
    topPartitions?: number;
  };
  /** Serves the dashboard (see `dashboardServer`) from this process. */
  dashboard?: {
    /** 0 picks a free port (`engine.dashboardUrl()` says which). */
    port: number;
    /** @default '127.0.0.1' */
    host?: string;
    /** Needed by the retry and discard buttons, sent as a bearer token. */
    token?: string;
  };
};

export type ResolvedEngineOptions = {
  connectionString: string;
  projectorsUrl: string;
  hostId: string;
  threads: number;
  threadHeapMb: number;
  group: string;
  leaseTimeoutSeconds: number;
  leaseTimeoutMs: number;
  hostWeight: number;
  readBatchSize: number;
  idlePollMs: number;
  maxPendingEvents: number;
  maxPartitionPending: number;
  markIntervalMs: number;
  migrate: boolean;
  logger: Logger;
  metrics?: { port: number; host: string; topPartitions: number };
  dashboard?: { port: number; host: string; token?: string };
  transport:
    | { type: 'in-process' }
    | { type: 'jetstream'; servers: string[]; app: string; credentials: ResolvedNatsCredentials; ackWaitMs: number; maxConsumingPartitions: number; maxPendingMessages: number };
};

const check = optionChecks('projectionEngine');

export const resolveEngineOptions = (options: ProjectionEngineOptions): ResolvedEngineOptions => {
  check.known('', options, ['connectionString', 'projectors', 'hostId', 'threads', 'threadHeapMb', 'lease', 'reader', 'transport', 'migrate', 'logger', 'metrics', 'dashboard']);
  check.known('metrics', options.metrics, ['port', 'host', 'topPartitions']);
  check.known('dashboard', options.dashboard, ['port', 'host', 'token']);
  check.known('lease', options.lease, ['group', 'timeoutMs', 'hostWeight']);
  check.known('reader', options.reader, ['batchSize', 'idlePollMs', 'maxPendingEvents', 'maxPartitionPending', 'markIntervalMs']);
  if (typeof options.connectionString !== 'string' || options.connectionString.length === 0)
    throw new ConfigurationError('projectionEngine: options.connectionString must be a PostgreSQL connection string');
  if (options.projectors === undefined) throw new ConfigurationError('projectionEngine: options.projectors must be the URL of a module exporting projectors');
  const projectorsUrl = options.projectors instanceof URL ? options.projectors.href : options.projectors;
  if (!/^[a-z]+:/.test(projectorsUrl))
    throw new ConfigurationError(`projectionEngine: options.projectors must be a URL (file:///...), got '${projectorsUrl}'; use new URL('./projections.ts', import.meta.url)`);
  const { transport } = options;
  if (transport !== undefined && transport.type !== 'in-process' && transport.type !== 'jetstream')
    throw new ConfigurationError(`projectionEngine: options.transport.type must be 'in-process' or 'jetstream', got ${String((transport as { type: unknown }).type)}`);
  check.known('transport', transport, transport?.type === 'jetstream' ? ['type', 'servers', 'app', 'ackWaitMs', 'maxConsumingPartitions', 'maxPendingMessages', ...natsCredentialKeys] : ['type']);
  const leaseTimeoutMs = check.positive('lease.timeoutMs', options.lease?.timeoutMs, DefaultLeaseTimeoutMs);
  return {
    connectionString: options.connectionString,
    projectorsUrl,
    hostId: options.hostId ?? defaultHostId(),
    threads: check.atLeastOne('threads', options.threads, Math.max(1, availableParallelism() - 1)),
    threadHeapMb: check.atLeastOne('threadHeapMb', options.threadHeapMb, DefaultThreadHeapMb),
    group: options.lease?.group ?? 'default',
    leaseTimeoutSeconds: Math.ceil(leaseTimeoutMs / 1000),
    leaseTimeoutMs,
    hostWeight: check.nonNegative('lease.hostWeight', options.lease?.hostWeight, 1),
    readBatchSize: check.atLeastOne('reader.batchSize', options.reader?.batchSize, DefaultReadBatchSize),
    idlePollMs: check.positive('reader.idlePollMs', options.reader?.idlePollMs, DefaultIdlePollMs),
    maxPendingEvents: check.positive('reader.maxPendingEvents', options.reader?.maxPendingEvents, 20_000),
    maxPartitionPending: check.atLeastOne('reader.maxPartitionPending', options.reader?.maxPartitionPending, 5000),
    markIntervalMs: check.positive('reader.markIntervalMs', options.reader?.markIntervalMs, 1000),
    migrate: options.migrate ?? true,
    transport:
      transport?.type === 'jetstream'
        ? {
            type: 'jetstream',
            servers: [transport.servers].flat(),
            app: checkApp(transport.app),
            credentials: resolveNatsCredentials('projectionEngine', 'transport', transport),
            ackWaitMs: check.positive('transport.ackWaitMs', transport.ackWaitMs, DefaultAckWaitMs),
            maxConsumingPartitions: check.atLeastOne('transport.maxConsumingPartitions', transport.maxConsumingPartitions, 256),
            maxPendingMessages: check.atLeastOne('transport.maxPendingMessages', transport.maxPendingMessages, 20_000),
          }
        : { type: 'in-process' },
    logger: asLogger(options.logger ?? stderrLogger()),
    ...(options.metrics === undefined
      ? {}
      : {
          metrics: {
            port: check.port('metrics.port', options.metrics.port),
            host: options.metrics.host ?? '127.0.0.1',
            topPartitions: check.atLeastOne('metrics.topPartitions', options.metrics.topPartitions, DefaultTopPartitions),
          },
        }),
    ...(options.dashboard === undefined
      ? {}
      : { dashboard: { port: check.port('dashboard.port', options.dashboard.port), host: options.dashboard.host ?? '127.0.0.1', token: options.dashboard.token } }),
  };
};
