import type { ResolvedNatsCredentials } from './natsCredentials.ts';
import type { Dumbo } from '@event-driven-io/dumbo';
import { sharedManager } from './jetstreamClients.ts';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { abortWithReason } from '../core/abortWithReason.ts';
import { toErrorInfo } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { partitionIdentity } from '../core/partitionIdentity.ts';
import { BeforeFirstPosition, type Position } from '../core/position.ts';
import { rendezvousOwner, type WeightedHost } from '../core/rendezvous.ts';
import { consumerBudget } from './consumerBudget.ts';
import { limiter } from '../core/limiter.ts';
import { wakeable } from '../core/wakeable.ts';
import type { PartitionRouter, StoppedPartition } from '../router/partitionRouter.ts';
import type { RouterFactory } from '../router/source.ts';
import { schedulerUpkeep } from '../router/schedulerUpkeep.ts';
import type { ProjectorStatus } from '../router/status.ts';
import { consumePartition, consumerConfig, followTenantRegistry } from './streamConsumers.ts';
import { refusal } from '../lifecycle/startRebuilds.ts';
import { resetPartition } from '../lifecycle/resetPartition.ts';
import { finishRebuild } from '../postgres/finishRebuild.ts';
import { readRebuilds } from '../postgres/readRebuilds.ts';
import { refuseRebuild } from '../postgres/refuseRebuild.ts';
import { RelayHeaders } from './streamNames.ts';
import { describeFailure } from '../core/isTransientError.ts';
import { readRemovedTenants } from '../postgres/readRemovedTenants.ts';
import { clearRemovedTenants } from '../lifecycle/clearRemovedTenants.ts';
import { streamActivity } from './streamActivity.ts';
import type { TenantRegistryEntry } from './tenantStreams.ts';
import { membership } from '../postgres/membership.ts';
import { partitionLeases, type PartitionLease } from '../postgres/partitionLeases.ts';
import { readCheckpoints } from '../postgres/readCheckpoints.ts';
import { readHaltedPartitions } from '../postgres/readHaltedPartitions.ts';
import { readPartitionRange } from '../postgres/readPartitionRange.ts';
import { replaySkippedDeadLetters } from '../postgres/replaySkippedDeadLetters.ts';
import { resolveRetriedDeadLetters } from '../postgres/resolveRetriedDeadLetters.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';

/** What a stream source needs of the engine's options. */
export type StreamSourceOptions = {
  connectionString: string;
  hostId: string;
  group: string;
  leaseTimeoutMs: number;
  hostWeight: number;
  logger: Logger;
  transport: { servers: string[]; app: string; credentials: ResolvedNatsCredentials; ackWaitMs: number; maxConsumingPartitions: number; maxPendingMessages: number };
};

export type StreamMember = {
  /** Resolves with the reason the member ended: stop(), or a failure (a worker thread died). */
  run(): Promise<string>;
  /** Hands every partition over: in-flight batches commit, leases are released, the host leaves the group. */
  stop(): Promise<void>;
  status(): ProjectorStatus[];
  readonly router: PartitionRouter;
  hosts(): string[];
  stopped(): StoppedPartition[];
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
export const streamMember = (context: {
  options: StreamSourceOptions;
  projectors: readonly AnyPartitionedProjector[];
  newRouter: RouterFactory;
  db: pg.Pool;
  dumbo: Dumbo;
  nc: NatsConnection;
  registry: KV;
  onProgress: () => void;
}): StreamMember => {
  const { options, db, nc, registry } = context;
  const { logger, hostId } = options;
  // Rounds come often enough that a dead host's partitions are taken soon after its leases expire.
  const tickMs = Math.max(100, Math.floor(options.leaseTimeoutMs / 6));
  const members = membership(db, { group: options.group, hostId, weight: options.hostWeight, timeoutMs: options.leaseTimeoutMs });
  const leases = partitionLeases(db, { hostId, timeoutMs: options.leaseTimeoutMs });
  const ending = abortWithReason();
  const { signal } = ending;
  const end = ending.abort;
  const projectorsById = new Map(context.projectors.map((projector) => [projector.processorId, projector]));
  const router = context.newRouter({
    opensOnDelivery: false,
    onProgress: context.onProgress,
    onFailure: (error) => {
      logger.error(error.message);
      end(error.message);
    },
  });

  const upkeep = schedulerUpkeep(db, hostId, router);
  const activity = streamActivity(nc, options.transport.app, logger, signal);
  const api = limiter(ConcurrentApiRequests);
  const budget = consumerBudget({ maxOpen: options.transport.maxConsumingPartitions, maxMessages: options.transport.maxPendingMessages });
  const tenants = new Map<string, TenantRegistryEntry>();
  const owned = new Map<string, Owned>();
  let hosts: WeightedHost[] = [];
  const changed = wakeable();

  const handingOver = new Map<string, { lease: Owned; done: Promise<void> }>();

  /** Stops consuming a lost partition at once; whatever it still commits is fenced by the epoch. */
  const drop = (lease: Owned): void => {
    owned.delete(partitionIdentity(lease.processorId, lease.partition));
    lease.controller.abort();
    router.release(lease.processorId, lease.partition);
  };

  /**
   * Hands a partition over without holding up the rounds: the consumer stops, what is in flight
   * commits and is acked, then the lease is released (and renewed meanwhile).
   */
  const handOver = (lease: Owned): Promise<void> => {
    const key = partitionIdentity(lease.processorId, lease.partition);
    owned.delete(key);
    lease.controller.abort();
    const started = Date.now();
    const done = (async () => {
      // Half the lease at most for what is in flight to commit; a timer that does not keep the process up.
      await Promise.race([lease.loop, new Promise((resolve) => setTimeout(resolve, options.leaseTimeoutMs / 2).unref())]);
      const checkpoint = router.checkpoint(lease.processorId, lease.partition);
      router.release(lease.processorId, lease.partition);
      logger.info(`${key}: handed over in ${Date.now() - started} ms`, {
        processorId: lease.processorId,
        partition: lease.partition,
        epoch: lease.epoch,
        checkpoint: checkpoint?.global.toString() ?? null,
        ms: Date.now() - started,
      });
      await leases.release([lease]).catch((error: unknown) => logger.warn(`${key}: could not release the lease: ${toErrorInfo(error).message}`));
      handingOver.delete(key);
      changed.wake();
    })();
    handingOver.set(key, { lease, done });
    return done;
  };

  const take = async (acquired: PartitionLease[]): Promise<void> => {
    for (const processorId of new Set(acquired.map((lease) => lease.processorId))) {
      const projector = projectorsById.get(processorId)!;
      const taken = acquired.filter((l) => l.processorId === processorId);
      const [checkpoints, halted] = await Promise.all([
        readCheckpoints(
          db,
          processorId,
          projector.version,
          taken.map((lease) => lease.partition),
        ),
        readHaltedPartitions(db, processorId),
      ]);
      for (const lease of taken) consume(projector, lease, checkpoints.get(lease.partition) ?? null, halted.has(lease.partition));
    }
  };

  /** Opens a partition this host holds the lease of and consumes its stream (a halted one waits for its dead letter). */
  const consume = (projector: AnyPartitionedProjector, lease: PartitionLease, checkpoint: Position | null, isHalted: boolean): void => {
    const { processorId } = projector;
    const entry = tenants.get(lease.partition)!;
    router.open(processorId, lease.partition, { checkpoint, lease: { epoch: lease.epoch, since: lease.acquiredAt }, halted: isHalted });
    const partitionController = new AbortController();
    const loop = isHalted
      ? Promise.resolve()
      : consumePartition({
          nc,
          entry,
          processorId,
          batchSize: projector.batchSize,
          deliver: (items) => router.deliver(processorId, lease.partition, items),
          checkpoint: () => router.checkpoint(processorId, lease.partition),
          // What the stream's retention dropped comes from the event store, read here: consumption reads no database.
          backfill: (after, before) => readPartitionRange(db, { partitionBy: projector.partitionBy, partition: lease.partition, after: after ?? BeforeFirstPosition, before }),
          ackWaitMs: options.transport.ackWaitMs,
          logger,
          signal: partitionController.signal,
          takeOver: true,
          activity,
          api,
          budget,
        }).catch((error: unknown) => logger.error(`${processorId}/${lease.partition}: ${toErrorInfo(error).message}`));
    owned.set(partitionIdentity(processorId, lease.partition), { ...lease, controller: partitionController, loop });
  };

  /** Stops consuming a partition this host keeps owning (its lease still renewed): what is in flight commits, for half a lease at most. */
  const pause = async (lease: Owned): Promise<void> => {
    const key = partitionIdentity(lease.processorId, lease.partition);
    owned.delete(key);
    lease.controller.abort();
    const kept = { lease, done: Promise.race([lease.loop, new Promise<void>((resolve) => setTimeout(resolve, options.leaseTimeoutMs / 2).unref())]).then(() => undefined) };
    handingOver.set(key, kept);
    await kept.done;
    handingOver.delete(key);
    router.release(lease.processorId, lease.partition);
  };

  /** The global position of the last message in a tenant's stream (0 when it is empty). */
  const streamHead = async (stream: string): Promise<bigint> => {
    const jsm = await sharedManager(nc);
    const last = (await api(() => jsm.streams.info(stream))).state.last_seq;
    if (last === 0) return 0n;
    const message = await api(() => jsm.streams.getMessage(stream, { seq: last }));
    return BigInt(message?.header.get(RelayHeaders.globalPosition) || '0');
  };

  /**
   * Rebuilds of partitions this host owns: a requested one pauses the partition's consumption (what
   * is in flight commits), deletes its durable consumer (so consuming starts again at the stream's
   * start; the store fills what retention dropped), resets it fenced on the lease, and consumes again;
   * it is done once its checkpoint reaches the tenant stream's last message of when it began.
   */
  const followRebuilds = async (gone: ReadonlySet<string>): Promise<void> => {
    for (const rebuild of await readRebuilds(db, { processorIds: [...projectorsById.keys()], open: true })) {
      const projector = projectorsById.get(rebuild.processorId)!;
      if (rebuild.partition === null) {
        if (await refuseRebuild(db, rebuild.id, 'rebuilding a whole projector is done by an engine reading the store (transport in-process); over JetStream, rebuild its partitions'))
          logger.warn(`rebuild ${rebuild.id} of ${rebuild.processorId} refused over JetStream`);
        continue;
      }
      const key = partitionIdentity(rebuild.processorId, rebuild.partition);
      const lease = owned.get(key);
      if (lease === undefined) continue;
      if (rebuild.status === 'running') {
        const checkpoint = router.checkpoint(rebuild.processorId, rebuild.partition);
        if (rebuild.through === null || rebuild.through === 0n || (checkpoint !== null && checkpoint.global >= rebuild.through)) {
          const applied = router.status().find((p) => p.processorId === rebuild.processorId)?.partitions.find((p) => p.partition === rebuild.partition)?.applied ?? 0;
          await finishRebuild(db, rebuild.id, { replayed: applied });
          logger.info(`rebuild ${rebuild.id} of ${key}: done`, { processorId: rebuild.processorId, partition: rebuild.partition });
        }
        continue;
      }
      const refused = refusal(projector, rebuild, gone);
      if (refused !== undefined) {
        if (await refuseRebuild(db, rebuild.id, refused)) logger.warn(`rebuild ${rebuild.id} of ${key} refused: ${refused}`);
        continue;
      }
      const entry = tenants.get(rebuild.partition)!;
      await pause(lease);
      let reset = false;
      try {
        const jsm = await sharedManager(nc);
        // Gone already is as good as deleted; any other failure leaves the rebuild for a later round.
        await api(() => jsm.consumers.delete(entry.stream, consumerConfig(projector).durable_name)).catch((error: unknown) => {
          if (!/not found/i.test(toErrorInfo(error).message)) throw error;
        });
        const through = await streamHead(entry.stream);
        reset = await resetPartition({ pool: context.dumbo, connectionString: options.connectionString, projector, partition: rebuild.partition, rebuildId: rebuild.id, lease: { owner: hostId, epoch: lease.epoch }, through });
        if (reset) logger.info(`rebuild ${rebuild.id} of ${key}: read models reset, replaying`, { processorId: rebuild.processorId, partition: rebuild.partition });
      } catch (error) {
        logger.warn(`rebuild ${rebuild.id} of ${key}: could not start, trying again: ${describeFailure(error)}`, { processorId: rebuild.processorId, partition: rebuild.partition });
      }
      // Reset: from no checkpoint; not reset: from where it was (a consumer deleted meanwhile starts over, and the checkpoint skips what is applied).
      const checkpoints = reset ? new Map<string, Position>() : await readCheckpoints(db, projector.processorId, projector.version, [rebuild.partition]);
      consume(projector, lease, checkpoints.get(rebuild.partition) ?? null, false);
    }
  };

  /**
   * Removed tenants: their partitions are let go here (and not taken again), then whichever host
   * gets there first cleans up after them; the leases it deletes fence any commit still coming. A
   * restore is refused over JetStream: the tenant's stream no longer holds its past events.
   */
  const followRemovedTenants = async (): Promise<ReadonlySet<string>> => {
    const tombstones = await readRemovedTenants(db);
    if (tombstones.length === 0) return new Set();
    for (const tenant of tombstones.filter((t) => t.restoring)) {
      const reason = 'cannot restore over JetStream (its stream no longer holds its past events): restore it with an engine reading the store (transport in-process)';
      await db.query('UPDATE distributary_removed_tenants SET restoring = false, error = $2 WHERE partition = $1 AND restoring', [tenant.partition, reason]);
    }
    const gone = new Set(tombstones.map((t) => t.partition));
    const leaving = [...owned.values()].filter((lease) => gone.has(lease.partition));
    await Promise.all(leaving.map(pause));
    if (leaving.length > 0) await leases.release(leaving).catch(() => undefined);
    await clearRemovedTenants({ pool: context.dumbo, db, connectionString: options.connectionString, projectors: context.projectors, logger });
    return gone;
  };



  /** Partitions that stopped here (fenced, or halted and since retried) are let go, to be taken again fresh. */
  const restartable = async (): Promise<Owned[]> => {
    const result: Owned[] = [];
    for (const projector of context.projectors) {
      const stopped = router.stopped(projector.processorId);
      if (stopped.length === 0) continue;
      const halted = stopped.some(({ state }) => state === 'halted') ? await readHaltedPartitions(db, projector.processorId) : new Set<string>();
      for (const { partition, state } of stopped) {
        const lease = owned.get(partitionIdentity(projector.processorId, partition));
        if (lease !== undefined && (state === 'fenced' || !halted.has(partition))) result.push(lease);
      }
    }
    return result;
  };

  const owners = new Map<string, string | undefined>();
  let ownersOf = '';
  const ownerOf = (key: string): string | undefined => {
    if (!owners.has(key)) owners.set(key, rendezvousOwner(key, hosts));
    return owners.get(key);
  };

  const tick = async (): Promise<void> => {
    hosts = await members.heartbeat();
    const membersNow = hosts.map((host) => `${host.hostId}\u0000${host.weight}`).join('\u0001');
    // Owners change only with the live hosts: computed again then, not on every round for every partition.
    if (membersNow !== ownersOf) {
      owners.clear();
      ownersOf = membersNow;
    }
    const held = [...owned.values()];
    const renewed = await leases.renew([...held, ...[...handingOver.values()].map((h) => h.lease)]);
    for (const lease of held) {
      if (renewed.has(partitionIdentity(lease.processorId, lease.partition))) continue;
      logger.warn(`${lease.processorId}/${lease.partition}: lease lost (epoch ${lease.epoch}); stopping it here`);
      drop(lease);
    }
    for (const lease of await restartable()) void handOver(lease);
    const gone = await followRemovedTenants();
    const wanted: { processorId: string; partition: string }[] = [];
    for (const processorId of projectorsById.keys())
      for (const tenant of tenants.keys()) {
        if (gone.has(tenant)) continue;
        const key = partitionIdentity(processorId, tenant);
        const mine = ownerOf(key) === hostId;
        const lease = owned.get(key);
        if (mine && lease === undefined && !handingOver.has(key)) wanted.push({ processorId, partition: tenant });
        else if (!mine && lease !== undefined) void handOver(lease);
      }
    await take(await leases.acquire(wanted));
    await followRebuilds(gone);
    await upkeep();
    await resolveRetriedDeadLetters(db);
    await replaySkippedDeadLetters(db, context.dumbo, options.connectionString, projectorsById);
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
      return ending.reason();
    },
    async stop() {
      end('stopped');
      await running;
      await Promise.all([...[...owned.values()].map(handOver), ...[...handingOver.values()].map((h) => h.done)]);
      await router.stop(options.leaseTimeoutMs);
      await members.leave().catch((error: unknown) => logger.warn(`could not leave group '${options.group}': ${toErrorInfo(error).message}`));
    },
    status: () => router.status(),
    router,
    hosts: () => hosts.map((host) => host.hostId),
    stopped: () => router.stopped(),
  };
};
