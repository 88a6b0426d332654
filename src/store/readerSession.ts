import { clearRemovedTenants } from '../lifecycle/clearRemovedTenants.ts';
import { restoreTenants } from '../lifecycle/restoreTenants.ts';
import { readRemovedTenants } from '../postgres/readRemovedTenants.ts';
import { startRebuilds } from '../lifecycle/startRebuilds.ts';
import { finishRebuild } from '../postgres/finishRebuild.ts';
import { readRebuilds } from '../postgres/readRebuilds.ts';
import type { Dumbo } from '@event-driven-io/dumbo';
import type pg from 'pg';
import { abortableSleep } from '../core/abortableSleep.ts';
import { abortWithReason } from '../core/abortWithReason.ts';
import { wakeable } from '../core/wakeable.ts';
import { DistributaryError } from '../core/errors.ts';
import { BeforeFirstPosition, comparePositions, isCovered, type Position } from '../core/position.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { readCheckpoints } from '../postgres/readCheckpoints.ts';
import { readEventBatch } from '../postgres/readEventBatch.ts';
import { readPacer } from '../postgres/readPacer.ts';
import { readHaltedPartitions } from '../postgres/readHaltedPartitions.ts';
import { replaySkippedDeadLetters } from '../postgres/replaySkippedDeadLetters.ts';
import { resolveRetriedDeadLetters } from '../postgres/resolveRetriedDeadLetters.ts';
import { storeCheckpoint } from '../postgres/storeCheckpoint.ts';
import type { WakeUps } from '../postgres/wakeUps.ts';
import type { Logger } from '../core/logger.ts';
import type { PartitionRouter, StoppedPartition } from '../router/partitionRouter.ts';
import type { RouterFactory } from '../router/source.ts';
import { schedulerUpkeep } from '../router/schedulerUpkeep.ts';
import type { ProjectorStatus } from '../router/status.ts';
import { projectorFeed, type ProjectorFeed } from './projectorFeed.ts';
import { markProcessorId } from './storedCatchUp.ts';

/*
 * One period during which this host holds the reader lease:
 *   open    — load each projector's checkpoints and stored low-water mark
 *   run     — read from the lowest mark, route, store marks every markIntervalMs; until aborted
 *   close   — let threads finish in-flight transactions, store final marks
 * Anything unexpected (a thread dies, a mark write finds another reader) aborts the session; the
 * engine then starts a new one from what is stored, so nothing depends on memory surviving.
 */

/** What a store source needs of the engine's options. */
export type StoreSourceOptions = {
  connectionString: string;
  hostId: string;
  group: string;
  leaseTimeoutSeconds: number;
  leaseTimeoutMs: number;
  readBatchSize: number;
  idlePollMs: number;
  maxPendingEvents: number;
  maxPartitionPending: number;
  markIntervalMs: number;
  logger: Logger;
};

export type ReaderSession = {
  /** Resolves when the session ends, with why. */
  run(): Promise<string>;
  abort(reason: string): void;
  readerPosition(): Position;
  /** Read up to `position`, and each projector of `processorIds` has committed what it routed up to it. */
  isCaughtUpTo(position: Position, processorIds: readonly string[]): boolean;
  status(): ProjectorStatus[];
  readonly router: PartitionRouter;
  /** Partitions that take no events this session, and why. */
  stopped(): StoppedPartition[];
  close(): Promise<void>;
};

type Mark = { feed: ProjectorFeed; processorId: string; stored: Position | null };

export const openReaderSession = async (context: {
  options: StoreSourceOptions;
  projectors: readonly AnyPartitionedProjector[];
  newRouter: RouterFactory;
  db: pg.Pool;
  dumbo: Dumbo;
  wakeUps: WakeUps;
  onProgress: () => void;
}): Promise<ReaderSession> => {
  const { options, db, wakeUps } = context;
  const ending = abortWithReason();
  const { signal } = ending;
  const abort = ending.abort;

  // Commits wake a reader paused on a full buffer, and whoever waits for the engine to catch up.
  const committed = wakeable();
  const onProgress = (): void => {
    committed.wake();
    context.onProgress();
  };

  // Rebuilds asked for reset what they rebuild before anything is read: no thread holds a partition yet.
  // Removed tenants: cleaned up now that no thread holds their partitions, and passed over by the feeds.
  await restoreTenants(db, context.projectors, options.logger).catch((error: unknown) => options.logger.warn(`could not restore tenants: ${(error as Error).message}`));
  await clearRemovedTenants({ pool: context.dumbo, db, connectionString: options.connectionString, projectors: context.projectors, logger: options.logger });
  const removed = new Set((await readRemovedTenants(db)).map((tenant) => tenant.partition));
  const rebuilds = await startRebuilds({ pool: context.dumbo, db, connectionString: options.connectionString, projectors: context.projectors, removed, logger: options.logger });
  // Everything stored is read before the router (and its threads) exists: a read that fails leaves nothing behind.
  const stored = await Promise.all(
    context.projectors.map(async (projector) => {
      const processorId = markProcessorId(options.group, projector);
      const [checkpoints, mark, halted] = await Promise.all([
        readCheckpoints(db, projector.processorId, projector.version),
        readCheckpoints(db, processorId, projector.version).then((rows) => rows.get('emt:default') ?? null),
        readHaltedPartitions(db, projector.processorId),
      ]);
      return { projector, processorId, checkpoints, mark, halted };
    }),
  );
  const router = context.newRouter({
    opensOnDelivery: true,
    onProgress,
    onFailure: (error) => {
      options.logger.error(error.message);
      abort(error.message);
    },
  });
  const marks: Mark[] = stored.map(({ projector, processorId, checkpoints, mark, halted }) => {
    for (const [partition, checkpoint] of checkpoints) if (!removed.has(partition)) router.open(projector.processorId, partition, { checkpoint, halted: halted.has(partition) });
    for (const partition of halted) if (!checkpoints.has(partition)) router.open(projector.processorId, partition, { checkpoint: null, halted: true });
    const feed = projectorFeed({
      projector,
      router,
      db,
      mark: mark ?? BeforeFirstPosition,
      maxPartitionPending: options.maxPartitionPending,
      readBatchSize: options.readBatchSize,
      removed,
      logger: options.logger,
    });
    // A partition being rebuilt is read for from its checkpoint (its start, after the reset) while the reader goes on for the others.
    for (const partition of rebuilds.partitions.get(projector.processorId)?.keys() ?? []) {
      if (!checkpoints.has(partition)) router.open(projector.processorId, partition, { checkpoint: null });
      feed.tracker.skipping(partition, checkpoints.get(partition) ?? BeforeFirstPosition);
    }
    return { feed, processorId, stored: mark };
  });
  let position = marks
    .map((mark) => mark.stored ?? BeforeFirstPosition)
    .reduce((low, stored) => (comparePositions(stored, low) < 0 ? stored : low));

  const storeMarks = async (): Promise<void> => {
    for (const mark of marks) {
      const next = mark.feed.tracker.lowWaterMark();
      if (mark.stored !== null ? comparePositions(next, mark.stored) <= 0 : comparePositions(next, BeforeFirstPosition) === 0) continue;
      const result = await storeCheckpoint(db, {
        processorId: mark.processorId,
        version: mark.feed.projector.version,
        partition: 'emt:default',
        instanceId: options.hostId,
        expected: mark.stored,
        next,
      });
      if (!result.ok) throw new DistributaryError(`another reader moved the mark of ${mark.feed.projector.processorId} (${result.reason})`);
      mark.stored = next;
    }
  };

  const buffered = (): number => marks.reduce((sum, mark) => sum + mark.feed.buffered(), 0);

  const readLoop = async (): Promise<void> => {
    const pause = readPacer(wakeUps, options.idlePollMs, committed);
    while (!signal.aborted) {
      if (buffered() >= options.maxPendingEvents) {
        await committed.wait(options.idlePollMs, signal);
        continue;
      }
      for (const mark of marks) await mark.feed.refill(position, options.maxPendingEvents - buffered());
      if (signal.aborted) return;
      const generation = wakeUps.generation();
      const batch = await readEventBatch(db, position, options.readBatchSize);
      if (signal.aborted) return;
      for (const mark of marks) {
        await mark.feed.route(batch.events, position);
        mark.feed.tracker.readThrough(batch.last);
      }
      position = batch.last;
      onProgress();
      const paused = pause(batch, generation, signal);
      // A skipped partition that gets room again is read for at once, not at the next append.
      let roomAgain = marks.some((mark) => mark.feed.refillable());
      while (!batch.more && !roomAgain && marks.some((mark) => mark.feed.tracker.skipped().size > 0) && !signal.aborted) {
        const woken = await Promise.race([paused.then(() => 'paused' as const), committed.wait(Number.POSITIVE_INFINITY, signal)]);
        if (woken === 'paused') break;
        roomAgain = marks.some((mark) => mark.feed.refillable());
      }
      if (!roomAgain) await paused;
    }
  };

  // Operators retry or discard dead letters in the database; a halted partition released that way
  // resumes in a new session, which re-reads from the marks (the halted partition's mark is still in
  // front of its dead letter). Retried skipped letters are applied here, out of order.
  const followDeadLetters = async (): Promise<void> => {
    await resolveRetriedDeadLetters(db);
    await replaySkippedDeadLetters(db, context.dumbo, options.connectionString, new Map(marks.map((mark) => [mark.feed.projector.processorId, mark.feed.projector])));
    for (const mark of marks) {
      const halted = router.stopped(mark.feed.projector.processorId).filter(({ state }) => state === 'halted').map(({ partition }) => partition);
      if (halted.length === 0) continue;
      const stillHalted = await readHaltedPartitions(db, mark.feed.projector.processorId);
      const released = halted.filter((key) => !stillHalted.has(key));
      if (released.length > 0) return abort(`dead letters of ${mark.feed.projector.processorId}/${released.join(', ')} were retried or discarded; resuming`);
    }
  };

  const replayedBy = new Map<string, Position>();
  /** Finishes the rebuilds that have caught up, and ends the session when new ones are asked for (the next one starts them). */
  const followRebuilds = async (): Promise<void> => {
    for (const mark of marks) {
      const { processorId } = mark.feed.projector;
      const status = () => router.status().find((p) => p.processorId === processorId)?.partitions ?? [];
      for (const [partition, rebuild] of rebuilds.partitions.get(processorId) ?? []) {
        if (mark.feed.tracker.skippedFrom(partition) !== undefined) continue;
        // The replay reached the reader: done once the partition has applied what was read by then (under steady traffic it is rarely idle).
        const readBy = replayedBy.get(rebuild.id) ?? position;
        replayedBy.set(rebuild.id, readBy);
        const checkpoint = router.checkpoint(processorId, partition);
        if (mark.feed.tracker.pending(partition) > 0 && !isCovered(readBy, checkpoint)) continue;
        await finishRebuild(db, rebuild.id, { replayed: status().find((p) => p.partition === partition)?.applied ?? 0 });
        rebuilds.partitions.get(processorId)!.delete(partition);
        options.logger.info(`rebuild ${rebuild.id} of ${processorId}/${partition}: done`, { processorId, partition });
      }
      const whole = rebuilds.whole.get(processorId);
      if (whole !== undefined && mark.stored !== null && (whole.through === null || mark.stored.global >= whole.through)) {
        await finishRebuild(db, whole.id, { replayed: status().reduce((sum, p) => sum + p.applied, 0) });
        rebuilds.whole.delete(processorId);
        options.logger.info(`rebuild ${whole.id} of ${processorId}: done`, { processorId });
      }
    }
    const tombstones = await readRemovedTenants(db);
    const nowRemoved = new Set(tombstones.filter((tenant) => !tenant.restoring).map((tenant) => tenant.partition));
    const changed = [...nowRemoved].filter((key) => !removed.has(key)).concat([...removed].filter((key) => !nowRemoved.has(key)));
    if (changed.length > 0) return abort(`tenant(s) ${changed.join(', ')} removed or restored; starting again without (or with) them`);
    const requested = (await readRebuilds(db, { processorIds: marks.map((mark) => mark.feed.projector.processorId), open: true })).filter((row) => row.status === 'requested');
    if (requested.length > 0) abort(`rebuild of ${requested.map((row) => `${row.processorId}${row.partition === null ? '' : `/${row.partition}`}`).join(', ')} asked for; starting it`);
  };

  const upkeep = schedulerUpkeep(db, options.hostId, router);
  const markLoop = async (): Promise<void> => {
    await upkeep();
    while (!signal.aborted) {
      await abortableSleep(options.markIntervalMs, signal);
      if (signal.aborted) return;
      await storeMarks();
      await followDeadLetters();
      await followRebuilds();
      await upkeep();
    }
  };

  const guard = (loop: () => Promise<void>): Promise<void> =>
    loop().catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      options.logger.error(`reader session failed: ${message}`);
      abort(message);
    });

  return {
    async run() {
      await Promise.all([guard(readLoop), guard(markLoop)]);
      return ending.reason();
    },
    abort,
    readerPosition: () => position,
    isCaughtUpTo: (target, processorIds) =>
      comparePositions(position, target) >= 0 && marks.every((mark) => !processorIds.includes(mark.feed.projector.processorId) || mark.feed.isCaughtUpTo(target)),
    status: () => router.status((processorId) => marks.find((mark) => mark.feed.projector.processorId === processorId)?.feed.tracker.lowWaterMark().global ?? 0n),
    router,
    stopped: () => router.stopped(),
    async close() {
      abort('closed');
      await router.stop(options.leaseTimeoutMs);
      await storeMarks().catch((error: unknown) => options.logger.warn(`could not store final marks: ${error instanceof Error ? error.message : String(error)}`));
    },
  };
};
