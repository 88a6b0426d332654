import { dumbo as createDumbo, type Dumbo } from '@event-driven-io/dumbo';
import pg from 'pg';
import { waitFor } from '../core/waitFor.ts';
import { wakeable } from '../core/wakeable.ts';
import { ConfigurationError } from '../core/errors.ts';
import { loadProjectors } from '../projector/loadProjectors.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { initProjection } from '../postgres/initProjection.ts';
import { migrate } from '../postgres/migrate.ts';
import { readerLease, type ReaderLease } from '../postgres/readerLease.ts';
import { readLastPosition } from '../postgres/readLastPosition.ts';
import { wakeUps as listenForAppends, type WakeUps } from '../postgres/wakeUps.ts';
import { openActiveSession, type ActiveSession } from './activeSession.ts';
import { runLeaseLoop } from './leaseLoop.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BeforeFirstPosition, comparePositions, type Position } from '../core/position.ts';
import { abortableSleep } from '../core/abortableSleep.ts';
import { WaitTimeoutError } from '../core/errors.ts';
import { clusterMember, type ClusterMember } from '../cluster/clusterMember.ts';
import { backoffDelay, DefaultBackoff } from '../core/backoff.ts';
import { consumersToDrain, undrainedConsumers } from '../jetstream/drainedConsumers.ts';
import { tenantRegistryBucket } from '../jetstream/relay.ts';
import { relayProcessorId } from '../jetstream/relaySession.ts';
import { readCheckpoints } from '../postgres/readCheckpoints.ts';
import { readHaltedPartitions } from '../postgres/readHaltedPartitions.ts';
import { storePartitionWeight } from '../postgres/partitionWeights.ts';
import { snapshotRuntimes } from './schedulerUpkeep.ts';
import type { PartitionSnapshot } from '../core/partitionScheduler.ts';

/** Waits until the relay of `app` has published everything up to `target`. */
const waitForRelay = async (db: pg.Pool, app: string, target: Position, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const relayed = (await readCheckpoints(db, relayProcessorId(app), 1)).get('emt:default') ?? BeforeFirstPosition;
    if (comparePositions(relayed, target) >= 0) return;
    if (Date.now() > deadline) throw new WaitTimeoutError(`the relay of '${app}' did not reach position ${target.global} within ${timeoutMs} ms`);
    await abortableSleep(100);
  }
};
import { resolveEngineOptions, type ProjectionEngineOptions } from './options.ts';
import type { EngineRole, EngineStatus } from './status.ts';

export type CaughtUp = { stopped: { processorId: string; partition: string; state: 'halted' | 'fenced' }[] };

export type ProjectionEngine = {
  /** Migrates, then competes for the reader lease: active when it wins, standby until then. */
  start(): Promise<void>;
  /**
   * Resolves when every projector has committed every event the store held when called, except in
   * partitions halted in front of a dead letter (or fenced), which it names.
   */
  whenCaughtUp(options?: { timeoutMs?: number }): Promise<CaughtUp>;
  /** Resolves when this host holds the reader lease. */
  whenActive(options?: { timeoutMs?: number }): Promise<void>;
  status(): EngineStatus;
  /**
   * Sets a partition's weight in its thread's fair queuing (default 1; e.g. by tier), stored so that
   * every host running the projector applies it (within a mark interval or a group round).
   */
  setWeight(processorId: string, partition: string, weight: number): Promise<void>;
  /** Per projector and thread on this host: each partition's state, queued events, in flight, weight and dispatched batches and events. */
  schedulerSnapshot(): Promise<{ processorId: string; thread: number; partitions: PartitionSnapshot[] }[]>;
  /** Finishes in-flight transactions, stores marks, releases the lease. */
  stop(): Promise<void>;
};

/*
 * Engine lifecycle:  stopped --start--> standby <--lease won / lost--> active --stop--> stopped
 * The lease loop renews every third of the lease timeout. A session that ends for any reason other
 * than stop() is followed by a fresh one after a short backoff, resuming from stored checkpoints.
 */
export const projectionEngine = (userOptions: ProjectionEngineOptions): ProjectionEngine => {
  const options = resolveEngineOptions(userOptions);
  const { logger } = options;
  let role: EngineRole = 'stopped';
  let projectors: AnyPartitionedProjector[] = [];
  let db: pg.Pool | undefined;
  let dumbo: Dumbo | undefined;
  let wakeUps: WakeUps | undefined;
  let lease: ReaderLease | undefined;
  let session: ActiveSession | undefined;
  let member: ClusterMember | undefined;
  let nc: NatsConnection | undefined;
  let registry: KV | undefined;
  let loop: Promise<void> | undefined;
  let stopping: AbortController | undefined;
  const progressed = wakeable();
  const onProgress = (): void => progressed.wake();


  /** Over JetStream: this host is a member of its group for as long as it runs; a member that fails is replaced. */
  const runMember = async (
    memberOptions: Parameters<typeof clusterMember>[0]['options'],
    connectedDb: pg.Pool,
    connectedDumbo: Dumbo,
    connection: NatsConnection,
    tenants: KV,
    signal: AbortSignal,
  ): Promise<void> => {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        const current = await clusterMember({ options: memberOptions, projectors, db: connectedDb, dumbo: connectedDumbo, nc: connection, registry: tenants, onProgress });
        member = current;
        role = 'member';
        onProgress();
        const ended = current.run();
        if (signal.aborted) await current.stop();
        const reason = await ended;
        if (signal.aborted) return;
        logger.warn(`${options.hostId}: member of group '${options.group}' ended (${reason}); joining again`);
        await current.stop();
      } catch (error) {
        if (signal.aborted) return;
        logger.warn(`${options.hostId}: could not join group '${options.group}': ${error instanceof Error ? error.message : String(error)}`);
      }
      member = undefined;
      onProgress();
      await abortableSleep(backoffDelay(DefaultBackoff, attempt), signal);
    }
  };

  const engine: ProjectionEngine = {
    async start() {
      if (role !== 'stopped') throw new ConfigurationError('projectionEngine: start() called twice');
      projectors = [...(await loadProjectors(options.projectorsUrl)).values()];
      if (options.migrate) await migrate(options.connectionString);
      db = new pg.Pool({ connectionString: options.connectionString, max: 4 });
      db.on('error', (error) => logger.warn(`idle PostgreSQL connection failed: ${error.message}`));
      dumbo = createDumbo({ connectionString: options.connectionString, pool: db });
      if (options.migrate) for (const projector of projectors) await initProjection(dumbo, options.connectionString, projector);
      wakeUps = listenForAppends(options.connectionString, logger);
      lease = readerLease(dumbo, { group: options.group, hostId: options.hostId, timeoutSeconds: options.leaseTimeoutSeconds });
      role = 'standby';
      stopping = new AbortController();
      const [connectedDb, connectedDumbo, listening] = [db, dumbo, wakeUps];
      const { transport } = options;
      if (transport.type === 'jetstream') {
        nc = await connect({ servers: transport.servers, maxReconnectAttempts: -1, name: `distributary-${options.hostId}` });
        registry = await new Kvm(nc).create(tenantRegistryBucket(transport.app), { history: 1 });
        loop = runMember({ ...options, transport }, connectedDb, connectedDumbo, nc, registry, stopping.signal);
        return;
      }
      lease = readerLease(dumbo, { group: options.group, hostId: options.hostId, timeoutSeconds: options.leaseTimeoutSeconds });
      loop = runLeaseLoop({
        name: `${options.hostId}, reader of group '${options.group}'`,
        lease,
        timeoutMs: options.leaseTimeoutSeconds * 1000,
        logger,
        signal: stopping.signal,
        open: () => openActiveSession({ options, projectors, db: connectedDb, dumbo: connectedDumbo, wakeUps: listening, onProgress }),
        onSession: (current) => {
          session = current;
          role = current === undefined ? 'standby' : 'active';
          onProgress();
        },
      });
    },

    async whenActive({ timeoutMs = 30_000 } = {}) {
      await waitFor(
        progressed,
        () => role === 'active' || role === 'member',
        timeoutMs,
        () => `${options.hostId} did not become the active reader within ${timeoutMs} ms (role: ${role})`,
      );
    },

    async whenCaughtUp({ timeoutMs = 30_000 } = {}) {
      if (role === 'stopped' || db === undefined) throw new ConfigurationError('projectionEngine: whenCaughtUp() needs a started engine');
      const target = await readLastPosition(db);
      if (options.transport.type === 'jetstream' && registry !== undefined && nc !== undefined) {
        const deadline = Date.now() + timeoutMs;
        await waitForRelay(db, options.transport.app, target, timeoutMs);
        const jsm = await jetstreamManager(nc, { checkAPI: false });
        const connected = db;
        const connectedRegistry = registry;
        // A busy server may time out a request (thousands of consumers being set up): asked again, until the deadline.
        const patiently = async <T>(ask: () => Promise<T>): Promise<T> => {
          for (;;) {
            try {
              return await ask();
            } catch (error) {
              if (Date.now() >= deadline) throw error;
              await abortableSleep(500);
            }
          }
        };
        let left = await patiently(() => consumersToDrain(connectedRegistry, projectors.map((projector) => projector.processorId)));
        // Partitions halted in front of a dead letter, on whichever host, are not waited for.
        const stoppedAnywhere = async (): Promise<CaughtUp['stopped']> => {
          const halted = await Promise.all(
            projectors.map(async (projector) => [...(await readHaltedPartitions(connected, projector.processorId))].map((partition) => ({ processorId: projector.processorId, partition, state: 'halted' as const }))),
          );
          const here = member?.stopped() ?? [];
          return [...here, ...halted.flat().filter((h) => !here.some((s) => s.processorId === h.processorId && s.partition === h.partition))];
        };
        for (;;) {
          const stopped = await stoppedAnywhere();
          const keys = new Set(stopped.map((s) => `${s.processorId}\u0000${s.partition}`));
          left = left.filter((pair) => !keys.has(`${pair.processorId}\u0000${pair.tenant}`));
          const pairs = left;
          left = await patiently(() => undrainedConsumers(jsm, pairs));
          if (left.length === 0) return { stopped };
          if (Date.now() >= deadline)
            throw new WaitTimeoutError(
              `the tenant streams were not drained within ${timeoutMs} ms: ${left.slice(0, 10).map((pair) => `${pair.processorId}/${pair.tenant}`).join(', ')}${left.length > 10 ? ', ...' : ''}`,
            );
          // Many partitions still catching up: look less often, the server has better things to do.
          await progressed.wait(Math.min(100, deadline - Date.now()));
          if (left.length > 100) await abortableSleep(Math.min(1000, Math.max(0, deadline - Date.now())));
        }
      }
      await waitFor(
        progressed,
        () => session?.isCaughtUpTo(target) === true,
        timeoutMs,
        () => {
          const behind = (session?.status() ?? []).flatMap((p) => p.partitions.filter((s) => s.lag > 0).map((s) => `${p.processorId}/${s.partition} (${s.state}, lag ${s.lag})`));
          return `not caught up to position ${target.global} within ${timeoutMs} ms; role ${role}, reader at ${String(session?.readerPosition().global ?? 'none')}; behind: ${behind.slice(0, 10).join(', ') || 'none'}`;
        },
      );
      return { stopped: session?.stopped() ?? [] };
    },

    async setWeight(processorId, partition, weight) {
      if (db === undefined) throw new ConfigurationError('projectionEngine: setWeight() needs a started engine');
      if (!projectors.some((projector) => projector.processorId === processorId))
        throw new ConfigurationError(`projectionEngine: setWeight(): no projector '${processorId}' here`);
      await storePartitionWeight(db, { processorId, partition, weight });
      const runtimes = member?.runtimes() ?? session?.runtimes() ?? [];
      runtimes.find((runtime) => runtime.projector.processorId === processorId)?.setWeights(new Map([[partition, weight]]));
    },

    schedulerSnapshot: () => snapshotRuntimes(member?.runtimes() ?? session?.runtimes() ?? []),

    status: () => ({
      hostId: options.hostId,
      group: options.group,
      role,
      readerPosition: session?.readerPosition().global ?? null,
      ...(member === undefined ? {} : { hosts: member.hosts() }),
      projectors: member?.status() ?? session?.status() ?? [],
    }),

    async stop() {
      if (role === 'stopped') return;
      stopping?.abort();
      await member?.stop();
      await loop;
      await lease?.release().catch((error: unknown) => logger.warn(`could not release reader lease: ${error instanceof Error ? error.message : String(error)}`));
      await wakeUps?.close();
      await nc?.drain().catch(() => undefined);
      await dumbo?.close();
      await db?.end();
      role = 'stopped';
      onProgress();
    },
  };
  return engine;
};
