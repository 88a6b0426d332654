import { dumbo as createDumbo, type Dumbo } from '@event-driven-io/dumbo';
import pg from 'pg';
import { ConfigurationError } from '../core/errors.ts';
import type { PartitionSnapshot } from '../core/partitionScheduler.ts';
import { threadPlacement, type ThreadPlacement } from '../core/threadPlacement.ts';
import { waitFor } from '../core/waitFor.ts';
import { wakeable } from '../core/wakeable.ts';
import { loadProjectors } from '../projector/loadProjectors.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { initProjection } from '../postgres/initProjection.ts';
import { adoptProjectors } from '../lifecycle/adoptProjectors.ts';
import { followVersions, readModelOf, registerVersions } from '../lifecycle/projectorVersions.ts';
import type { ReadModelVersion } from '../postgres/readModelVersions.ts';
import { waitForRebuild } from '../lifecycle/waitForRebuild.ts';
import { requestRebuild } from '../postgres/requestRebuild.ts';
import type { RebuildRow } from '../postgres/readRebuilds.ts';
import { migrate } from '../postgres/migrate.ts';
import { storePartitionWeight } from '../postgres/partitionWeights.ts';
import { readLastPosition } from '../postgres/readLastPosition.ts';
import { partitionRouter } from '../router/partitionRouter.ts';
import type { CaughtUp, RouterFactory, Source } from '../router/source.ts';
import type { EngineStatus } from '../router/status.ts';
import { storeSource } from '../store/storeSource.ts';
import { threadPool, type ThreadPool } from '../workers/threadPool.ts';
import { engineTelemetry } from '../telemetry/engineTelemetry.ts';
import type { Registry } from 'prom-client';
import { resolveEngineOptions, type ProjectionEngineOptions, type ResolvedEngineOptions } from './options.ts';

export type { CaughtUp };

export type ProjectionEngine = {
  /**
   * Migrates, starts the threads and the source; resolves with the role settled: `active` (this host
   * reads the store), `standby` (another host of the group does), or `member` (over JetStream).
   */
  start(): Promise<void>;
  /**
   * Resolves when every projector has committed every event the store held when called, on whichever
   * host, except in partitions halted in front of a dead letter (or fenced), which it names.
   */
  whenCaughtUp(options?: { timeoutMs?: number }): Promise<CaughtUp>;
  /** Resolves when this host reads the store (in-process) or is a member of its group (JetStream). */
  whenActive(options?: { timeoutMs?: number }): Promise<void>;
  status(): EngineStatus;
  /**
   * Sets a partition's weight in its thread's fair queuing (default 1; e.g. by tier), stored so that
   * every host running the projector applies it (within a mark interval or a group round).
   */
  setWeight(processorId: string, partition: string, weight: number): Promise<void>;
  /** Per projector and thread on this host: each partition's state, queued events, in flight, weight and dispatched batches and events. */
  schedulerSnapshot(): Promise<{ processorId: string; thread: number; partitions: PartitionSnapshot[] }[]>;
  /**
   * Rebuilds one partition live (its rows deleted through the projector's `truncatePartition` and its
   * checkpoint reset in one transaction, then its events replayed in order while every other
   * partition keeps running and its new events queue behind the replay), or without `partition` the
   * whole projector (its projection's `truncate`, then every event, reading the store once). Whichever
   * host owns the work carries it out. Resolves with the finished rebuild; rejects if it failed.
   */
  rebuild(processorId: string, options?: { partition?: string; timeoutMs?: number }): Promise<RebuildRow>;
  /**
   * The version of a projector (by the processorId it was declared with) the application should read:
   * its read model's name (a Pongo projection's collection) and version. A later version exported
   * beside it builds in the background and becomes current here only once caught up.
   */
  readModel(processorId: string): Promise<ReadModelVersion>;
  /** The engine's Prometheus registry (served at `metrics.port` when configured). */
  metrics(): Registry;
  /** Where the metrics are served, once started with `metrics`. */
  metricsUrl(): string | undefined;
  /** Where the dashboard is served, once started with `dashboard`. */
  dashboardUrl(): string | undefined;
  /** Finishes in-flight transactions, stores marks, releases leases. */
  stop(): Promise<void>;
};

/**
 * Transactions a thread keeps open at once across its projectors: what they ask for together, up to
 * twice the most any one asks for (more connections than that only queue up in the database).
 */
const threadConcurrency = (projectors: readonly AnyPartitionedProjector[]): number => {
  const wanted = projectors.map((projector) => projector.concurrency);
  return Math.min(
    wanted.reduce((sum, concurrency) => sum + concurrency, 0),
    2 * Math.max(...wanted),
  );
};

/** Loads the stream source only when configured: an in-process engine never loads NATS. */
const loadStreamSource = async () => (await import('../jetstream/streamSource.ts')).streamSource;

/*
 * The facade: one thread budget, one source, a router per run of the source.
 *   stopped --start--> (threads warming | migrating) --> source started (role settled) --stop--> stopped
 * Threads start first and import the projectors module while the engine migrates and the source
 * opens, so the first events do not wait for them.
 */
export const projectionEngine = (userOptions: ProjectionEngineOptions): ProjectionEngine => {
  const options = resolveEngineOptions(userOptions);
  const { logger } = options;
  let started = false;
  let projectors: AnyPartitionedProjector[] = [];
  let db: pg.Pool | undefined;
  let dumbo: Dumbo | undefined;
  let source: Source | undefined;
  let spare: ThreadPool | undefined;
  // Versions building beside the current ones, followed until they are current.
  let versionsStop = new AbortController();
  let followingVersions: Promise<void> = Promise.resolve();
  const progressed = wakeable();
  const telemetry = engineTelemetry({
    hostId: options.hostId,
    group: options.group,
    transport: options.transport.type,
    threads: options.threads,
    aliveForMs: options.leaseTimeoutMs,
    connectionString: options.connectionString,
    metrics: options.metrics,
    dashboard: options.dashboard,
    role: () => source?.role() ?? 'stopped',
    status: () => engine.status(),
    router: () => source?.router(),
    logger,
  });

  const poolFor = (placement: ThreadPlacement): ThreadPool =>
    threadPool({
      projectorsUrl: options.projectorsUrl,
      processorIds: projectors.map((projector) => projector.processorId),
      connectionString: options.connectionString,
      hostId: options.hostId,
      threads: options.threads,
      heapMb: options.threadHeapMb,
      placement,
      concurrency: threadConcurrency(projectors),
      // A paused host's open transaction must not keep the next owner out longer than its lease.
      idleInTransactionTimeoutMs: options.transport.type === 'jetstream' ? options.leaseTimeoutMs : undefined,
    });

  const routerFactory = (placement: ThreadPlacement): RouterFactory => (hooks) => {
    const pool = spare ?? poolFor(placement);
    spare = undefined;
    const router = partitionRouter({ projectors, pool, hostId: options.hostId, logger, observer: telemetry.observer, ...hooks });
    telemetry.observe(router);
    return router;
  };

  const openSource = async (resolved: ResolvedEngineOptions, newRouter: RouterFactory, connectedDb: pg.Pool, connectedDumbo: Dumbo): Promise<Source> => {
    const context = { projectors, newRouter, db: connectedDb, dumbo: connectedDumbo, onProgress: () => progressed.wake() };
    const { transport } = resolved;
    if (transport.type === 'jetstream') return (await loadStreamSource())({ ...context, options: { ...resolved, transport } });
    return storeSource({ ...context, options: resolved });
  };

  const engine: ProjectionEngine = {
    async start() {
      if (started) throw new ConfigurationError('projectionEngine: start() called twice');
      started = true;
      projectors = [...(await loadProjectors(options.projectorsUrl)).values()];
      const placed = threadPlacement(options.threads, projectors);
      if (!placed.ok) throw new ConfigurationError(`projectionEngine: ${placed.error}`);
      spare = poolFor(placed.placement);
      // Threads import the projectors module while the engine migrates and the source opens; start()
      // waits for them too, so an event appended right after it is applied without that wait.
      const warming = spare.ready();
      warming.catch(() => undefined);
      try {
        if (options.migrate) await migrate(options.connectionString);
        db = new pg.Pool({ connectionString: options.connectionString, max: 4 });
        db.on('error', (error) => logger.warn(`idle PostgreSQL connection failed: ${error.message}`));
        dumbo = createDumbo({ connectionString: options.connectionString, pool: db });
        if (options.migrate) for (const projector of projectors) await initProjection(dumbo, options.connectionString, projector);
        // Versions side by side: each recorded, the first one current; a dropped one refuses to start.
        await registerVersions(db, projectors);
        // A processor id Emmett ran goes on from its checkpoint, is rebuilt, or the start fails: never applied twice.
        const adopted = await adoptProjectors(dumbo, db, options.connectionString, projectors);
        projectors = projectors.map((projector) => (adopted.has(projector.processorId) ? { ...projector, adopted: adopted.get(projector.processorId) } : projector));
        source = await openSource(options, routerFactory(placed.placement), db, dumbo);
        await source.start();
        followingVersions = followVersions({
          db,
          projectors,
          caughtUp: async (timeoutMs, processorIds) => source!.whenCaughtUp(await readLastPosition(db!), timeoutMs, processorIds),
          working: () => source?.role() === 'active' || source?.role() === 'member',
          onSwitch: (version) => logger.info(`version ${version.version} of '${version.processorId}' is caught up and now current`, { processorId: version.processorId, version: version.version }),
          signal: versionsStop.signal,
        });
        await warming;
        await telemetry.start(db);
      } catch (error) {
        // Nothing of a start that failed keeps running: threads, connections, a half-started source.
        await engine.stop();
        throw error;
      }
      progressed.wake();
    },

    async whenActive({ timeoutMs = 30_000 } = {}) {
      await waitFor(
        progressed,
        () => source?.role() === 'active' || source?.role() === 'member',
        timeoutMs,
        () => `${options.hostId} did not become the active reader within ${timeoutMs} ms (role: ${source?.role() ?? 'stopped'})`,
      );
    },

    async whenCaughtUp({ timeoutMs = 30_000 } = {}) {
      if (source === undefined || db === undefined) throw new ConfigurationError('projectionEngine: whenCaughtUp() needs a started engine');
      return source.whenCaughtUp(await readLastPosition(db), timeoutMs);
    },

    async setWeight(processorId, partition, weight) {
      if (db === undefined) throw new ConfigurationError('projectionEngine: setWeight() needs a started engine');
      if (!projectors.some((projector) => projector.processorId === processorId))
        throw new ConfigurationError(`projectionEngine: setWeight(): no projector '${processorId}' here`);
      await storePartitionWeight(db, { processorId, partition, weight });
      source?.router()?.setWeights(processorId, new Map([[partition, weight]]));
    },

    schedulerSnapshot: async () => (await source?.router()?.snapshot()) ?? [],

    status: () => {
      const current = source?.status();
      return {
        hostId: options.hostId,
        group: options.group,
        role: source?.role() ?? 'stopped',
        readerPosition: current?.readerPosition ?? null,
        ...(current?.hosts === undefined ? {} : { hosts: current.hosts }),
        projectors: current?.projectors ?? [],
      };
    },

    async readModel(processorId) {
      if (db === undefined) throw new ConfigurationError('projectionEngine: readModel() needs a started engine');
      const current = await readModelOf(db, processorId);
      if (current === undefined) throw new ConfigurationError(`projectionEngine: readModel(): no projector '${processorId}' was ever started against this database`);
      return current;
    },

    async rebuild(processorId, { partition, timeoutMs = 600_000 } = {}) {
      if (db === undefined) throw new ConfigurationError('projectionEngine: rebuild() needs a started engine');
      if (!projectors.some((projector) => projector.processorId === processorId)) throw new ConfigurationError(`projectionEngine: rebuild(): no projector '${processorId}' here`);
      const id = await requestRebuild(db, { processorId, partition: partition ?? null });
      return waitForRebuild(db, id, timeoutMs);
    },

    metrics: () => telemetry.metrics.registry,
    metricsUrl: () => telemetry.metricsUrl(),
    dashboardUrl: () => telemetry.dashboardUrl(),

    async stop() {
      if (!started) return;
      versionsStop.abort();
      await followingVersions;
      versionsStop = new AbortController();
      await telemetry.flush();
      await source?.stop();
      await telemetry.stop();
      await spare?.stop(options.leaseTimeoutMs);
      spare = undefined;
      await dumbo?.close();
      await db?.end();
      source = undefined;
      dumbo = undefined;
      db = undefined;
      started = false;
      progressed.wake();
    },
  };
  return engine;
};
