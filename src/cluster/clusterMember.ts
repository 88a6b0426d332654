import type { Dumbo } from '@event-driven-io/dumbo';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { abortableSleep } from '../core/abortableSleep.ts';
import { toErrorInfo } from '../core/errors.ts';
import { BeforeFirstPosition } from '../core/position.ts';
import { rendezvousOwner, type WeightedHost } from '../core/rendezvous.ts';
import { limiter } from '../core/limiter.ts';
import { wakeable } from '../core/wakeable.ts';
import type { ResolvedEngineOptions } from '../engine/options.ts';
import { projectorRuntime, type ProjectorRuntime } from '../engine/projectorRuntime.ts';
import { schedulerUpkeep } from '../engine/schedulerUpkeep.ts';
import type { ProjectorStatus } from '../engine/status.ts';
import { consumePartition, followTenantRegistry } from '../jetstream/streamConsumers.ts';
import { streamActivity } from '../jetstream/streamActivity.ts';
import type { TenantRegistryEntry } from '../jetstream/tenantStreams.ts';
import { membership } from '../postgres/membership.ts';
import { leaseKey, partitionLeases, type PartitionLease } from '../postgres/partitionLeases.ts';
import { readCheckpoints } from '../postgres/readCheckpoints.ts';
import { readHaltedPartitions } from '../postgres/readHaltedPartitions.ts';
import { replaySkippedDeadLetters } from '../postgres/replaySkippedDeadLetters.ts';
import { resolveRetriedDeadLetters } from '../postgres/resolveRetriedDeadLetters.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';

export type ClusterMember = {
  /** Resolves with the reason the member ended: stop(), or a failure (a worker thread died). */
  run(): Promise<string>;
  /** Hands every partition over: in-flight batches commit, leases are released, the host leaves the group. */
  stop(): Promise<void>;
  status(): ProjectorStatus[];
  runtimes(): ProjectorRuntime[];
  hosts(): string[];
  stopped(): { processorId: string; partition: string; state: 'halted' | 'fenced' }[];
};

/** JetStream API requests (consumer info, create) the partitions of one host make at once. */
const ConcurrentApiRequests = 16;

type Owned = PartitionLease & { controller: AbortController; loop: Promise<void> };

/*
 * One host of a group sharing the (projector, tenant) partitions of the tenant streams.
 *
 * Every sixth of the lease timeout it beats its heart in `distributary_hosts`, renews its partition
 * leases, and computes with rendezvous hashing over the live hosts which partitions are its own.
 * Those it owns but should not, it hands over: the consumer stops, what is in flight commits and is
 * acked, the lease is released. Those it should own and can take (free, expired or released, and no
 * commit of the previous owner still running), it takes with a new epoch and consumes from the
 * stream. A lease it could not renew is lost: its consumer stops at once, and any commit still
 * coming from it is fenced by the epoch.
 */
export const clusterMember = async (context: {
  options: ResolvedEngineOptions & { transport: { type: 'jetstream'; ackWaitMs: number } };
  projectors: AnyPartitionedProjector[];
  db: pg.Pool;
  dumbo: Dumbo;
  nc: NatsConnection;
  registry: KV;
  onProgress: () => void;
}): Promise<ClusterMember> => {
  const { options, db, nc, registry } = context;
  const { logger, hostId } = options;
  // Rounds come often enough that a dead host's partitions are taken soon after its leases expire.
  const tickMs = Math.max(100, Math.floor(options.leaseTimeoutMs / 6));
  const members = membership(db, { group: options.group, hostId, weight: options.hostWeight, timeoutMs: options.leaseTimeoutMs });
  const leases = partitionLeases(db, { hostId, timeoutMs: options.leaseTimeoutMs });
  const controller = new AbortController();
  const { signal } = controller;
  let endReason = 'stopped';
  const end = (reason: string): void => {
    if (signal.aborted) return;
    endReason = reason;
    controller.abort();
  };

  const runtimes = new Map<string, ProjectorRuntime>();
  for (const projector of context.projectors)
    runtimes.set(
      projector.processorId,
      projectorRuntime({
        projector,
        projectorsUrl: options.projectorsUrl,
        connectionString: options.connectionString,
        hostId,
        db,
        checkpoints: new Map(),
        halted: new Set(),
        mark: BeforeFirstPosition,
        logger,
        // A paused host's open transaction must not keep the next owner out longer than its lease.
        idleInTransactionTimeoutMs: options.leaseTimeoutMs,
        onProgress: context.onProgress,
        onFailure: (error) => {
          logger.error(error.message);
          end(error.message);
        },
      }),
    );
  await Promise.all([...runtimes.values()].map((runtime) => runtime.warm()));

  const upkeep = schedulerUpkeep(db, hostId, [...runtimes.values()]);
  const activity = streamActivity(nc, options.transport.app, logger, signal);
  const api = limiter(ConcurrentApiRequests);
  const tenants = new Map<string, TenantRegistryEntry>();
  const owned = new Map<string, Owned>();
  let hosts: WeightedHost[] = [];
  const changed = wakeable();

  const handingOver = new Map<string, { lease: Owned; done: Promise<void> }>();

  /** Stops consuming a lost partition at once; whatever it still commits is fenced by the epoch. */
  const drop = (lease: Owned): void => {
    owned.delete(leaseKey(lease.processorId, lease.partition));
    lease.controller.abort();
    runtimes.get(lease.processorId)?.release(lease.partition);
  };

  /**
   * Hands a partition over without holding up the rounds: the consumer stops, what is in flight
   * commits and is acked, then the lease is released (and renewed meanwhile).
   */
  const handOver = (lease: Owned): Promise<void> => {
    const key = leaseKey(lease.processorId, lease.partition);
    owned.delete(key);
    lease.controller.abort();
    const done = (async () => {
      await Promise.race([lease.loop, abortableSleep(options.leaseTimeoutMs / 2)]);
      runtimes.get(lease.processorId)?.release(lease.partition);
      await leases.release([lease]).catch((error: unknown) => logger.warn(`${key}: could not release the lease: ${toErrorInfo(error).message}`));
      handingOver.delete(key);
      changed.wake();
    })();
    handingOver.set(key, { lease, done });
    return done;
  };

  const take = async (acquired: PartitionLease[]): Promise<void> => {
    for (const processorId of new Set(acquired.map((lease) => lease.processorId))) {
      const runtime = runtimes.get(processorId)!;
      const taken = acquired.filter((l) => l.processorId === processorId);
      const [checkpoints, halted] = await Promise.all([
        readCheckpoints(
          db,
          processorId,
          runtime.projector.version,
          taken.map((lease) => lease.partition),
        ),
        readHaltedPartitions(db, processorId),
      ]);
      for (const lease of taken) {
        const entry = tenants.get(lease.partition)!;
        const isHalted = halted.has(lease.partition);
        runtime.assign(lease.partition, { epoch: lease.epoch, since: lease.acquiredAt, checkpoint: checkpoints.get(lease.partition) ?? null, halted: isHalted });
        const partitionController = new AbortController();
        const loop = isHalted
          ? Promise.resolve()
          : consumePartition({
              nc,
              db,
              runtime,
              entry,
              ackWaitMs: options.transport.ackWaitMs,
              logger,
              signal: partitionController.signal,
              takeOver: true,
              activity,
              api,
            }).catch((error: unknown) => logger.error(`${processorId}/${lease.partition}: ${toErrorInfo(error).message}`));
        owned.set(leaseKey(processorId, lease.partition), { ...lease, controller: partitionController, loop });
      }
    }
  };

  /** Partitions that stopped here (fenced, or halted and since retried) are let go, to be taken again fresh. */
  const restartable = async (): Promise<Owned[]> => {
    const result: Owned[] = [];
    for (const runtime of runtimes.values()) {
      const stopped = [...runtime.stopped()];
      if (stopped.length === 0) continue;
      const halted = stopped.some(([, why]) => why === 'halted') ? await readHaltedPartitions(db, runtime.projector.processorId) : new Set<string>();
      for (const [partition, why] of stopped) {
        const lease = owned.get(leaseKey(runtime.projector.processorId, partition));
        if (lease !== undefined && (why === 'fenced' || !halted.has(partition))) result.push(lease);
      }
    }
    return result;
  };

  const tick = async (): Promise<void> => {
    hosts = await members.heartbeat();
    const held = [...owned.values()];
    const renewed = await leases.renew([...held, ...[...handingOver.values()].map((h) => h.lease)]);
    for (const lease of held) {
      if (renewed.has(leaseKey(lease.processorId, lease.partition))) continue;
      logger.warn(`${lease.processorId}/${lease.partition}: lease lost (epoch ${lease.epoch}); stopping it here`);
      drop(lease);
    }
    for (const lease of await restartable()) void handOver(lease);
    const wanted: { processorId: string; partition: string }[] = [];
    for (const processorId of runtimes.keys())
      for (const tenant of tenants.keys()) {
        const key = leaseKey(processorId, tenant);
        const mine = rendezvousOwner(key, hosts) === hostId;
        const lease = owned.get(key);
        if (mine && lease === undefined && !handingOver.has(key)) wanted.push({ processorId, partition: tenant });
        else if (!mine && lease !== undefined) void handOver(lease);
      }
    await take(await leases.acquire(wanted));
    await upkeep();
    await resolveRetriedDeadLetters(db);
    await replaySkippedDeadLetters(db, context.dumbo, options.connectionString, new Map([...runtimes].map(([id, runtime]) => [id, runtime.projector])));
  };

  const coordinate = async (): Promise<void> => {
    for (let failures = 0; !signal.aborted; ) {
      try {
        await tick();
        failures = 0;
      } catch (error) {
        failures++;
        logger.warn(`${hostId}: group '${options.group}' round failed (${failures} in a row): ${toErrorInfo(error).message}`);
      }
      await changed.wait(tickMs, signal);
    }
  };

  let running: Promise<unknown> = Promise.resolve();
  return {
    async run() {
      await (running = Promise.all([
        followTenantRegistry(
          registry,
          (entry) => {
            tenants.set(entry.tenant, entry);
            changed.wake();
          },
          signal,
          logger,
        ),
        coordinate(),
        activity.run(),
      ]));
      return endReason;
    },
    async stop() {
      end('stopped');
      await running;
      await Promise.all([...[...owned.values()].map(handOver), ...[...handingOver.values()].map((h) => h.done)]);
      await Promise.all([...runtimes.values()].map((runtime) => runtime.stop(options.leaseTimeoutMs)));
      await members.leave().catch((error: unknown) => logger.warn(`could not leave group '${options.group}': ${toErrorInfo(error).message}`));
    },
    status: () => [...runtimes.values()].map((runtime) => runtime.status()),
    runtimes: () => [...runtimes.values()],
    hosts: () => hosts.map((host) => host.hostId),
    stopped: () =>
      [...runtimes.values()].flatMap((runtime) => [...runtime.stopped()].map(([partition, state]) => ({ processorId: runtime.projector.processorId, partition, state }))),
  };
};
