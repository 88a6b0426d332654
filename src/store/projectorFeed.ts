import type pg from 'pg';
import { PartitionKeyError, toErrorInfo } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { resolvePartitionKey } from '../core/partitionKey.ts';
import { isAdopted } from '../core/adoptedCheckpoint.ts';
import { comparePositions, isCovered, type Position } from '../core/position.ts';
import { progressTracker, type ProgressTracker } from '../core/progressTracker.ts';
import type { PartitionRouter } from '../router/partitionRouter.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import { readPartitionRange } from '../postgres/readPartitionRange.ts';
import { recordDeadLetter } from '../postgres/recordDeadLetter.ts';

/** Pages a refill reads for one partition before the reader takes its turn again. */
const RefillPages = 10;

export type ProjectorFeed = {
  readonly projector: AnyPartitionedProjector;
  readonly tracker: ProgressTracker;
  /** Routes one read batch that follows `after`: each handled event to its partition, bad keys to dead letters. */
  route(events: readonly PositionedEvent[], after: Position): Promise<void>;
  /**
   * Reads again, for partitions skipped because their buffers were full and that have room again,
   * their events up to `through` (the reader's position), and sends them on; no more than `room`
   * events in all (what the reader's overall cap leaves).
   */
  refill(through: Position, room: number): Promise<void>;
  /** True when a partition the reader skipped has room again. */
  refillable(): boolean;
  /** Routed events still buffered for partitions that can make progress. */
  buffered(): number;
  /** True when every partition that can make progress has committed everything up to `position`. */
  isCaughtUpTo(position: Position): boolean;
};

/*
 * One projector as the store source feeds it during one reader session: which events it handles,
 * their partitions, what is routed and not committed (the progress tracker behind the low-water
 * mark), and per-partition backpressure: a partition with `maxPartitionPending` routed, uncommitted
 * events is skipped from some position on and read again for it once it has worked off half.
 */
export const projectorFeed = (context: {
  projector: AnyPartitionedProjector;
  router: PartitionRouter;
  db: pg.Pool;
  /** The stored low-water mark: what it covers is not routed again. */
  mark: Position;
  maxPartitionPending: number;
  readBatchSize: number;
  /** Tenants removed: their events are passed over (each logged once). */
  removed?: ReadonlySet<string>;
  logger: Logger;
}): ProjectorFeed => {
  const { projector, router, maxPartitionPending } = context;
  const { processorId } = projector;
  const tracker = progressTracker(context.mark);
  const passedOver = new Set<string>();
  router.onReport((report) => {
    if (report.processorId === processorId && report.checkpoint !== null) tracker.committed(report.partition, report.checkpoint);
  });
  const stoppedKeys = (): ReadonlySet<string> => new Set(router.stopped(processorId).map((s) => s.partition));
  const hasRoom = (key: string): boolean => !router.isStopped(processorId, key) && tracker.pending(key) <= maxPartitionPending / 2;

  const deadLetterKeyless = async (item: PositionedEvent, error: Error): Promise<void> => {
    context.logger.warn(`${processorId}: event at ${item.position.global} dead-lettered: ${error.message}`);
    await recordDeadLetter(context.db, { processorId, partition: null, item, error: toErrorInfo(error), attempts: 1, policy: 'skip' });
  };

  return {
    projector,
    tracker,
    async route(events, after) {
      const outgoing = new Map<string, PositionedEvent[]>();
      let previous = after;
      for (const item of events) {
        const { event, position } = item;
        const before = previous;
        previous = position;
        if (isCovered(position, context.mark) || isAdopted(projector.adopted, position)) continue;
        if (typeof event.type !== 'string' || event.type === '') {
          await deadLetterKeyless(item, new PartitionKeyError('the event has no type'));
          continue;
        }
        if (!projector.handles.has(event.type)) continue;
        const key = resolvePartitionKey(projector.partitionBy, event);
        if (!key.ok) {
          await deadLetterKeyless(item, key.error);
          continue;
        }
        if (context.removed?.has(key.key) === true) {
          if (!passedOver.has(key.key)) context.logger.info(`${processorId}: events of removed tenant '${key.key}' are not applied`, { processorId, partition: key.key });
          passedOver.add(key.key);
          continue;
        }
        if (tracker.skippedFrom(key.key) !== undefined) continue;
        if (tracker.pending(key.key) >= maxPartitionPending) {
          tracker.skipping(key.key, before);
          continue;
        }
        tracker.routed(key.key, position, before);
        const batch = outgoing.get(key.key);
        if (batch === undefined) outgoing.set(key.key, [item]);
        else batch.push(item);
      }
      for (const [key, items] of outgoing) void router.deliver(processorId, key, items);
    },
    refillable() {
      for (const key of tracker.skipped().keys()) if (hasRoom(key)) return true;
      return false;
    },
    async refill(through, room) {
      for (const [key, from] of [...tracker.skipped()]) {
        const wanted = Math.min(maxPartitionPending / 2, room);
        if (wanted <= 0) return;
        if (!hasRoom(key)) continue;
        const items: PositionedEvent[] = [];
        let scanned = from;
        let reached = comparePositions(from, through) >= 0;
        // Half a buffer, or a few pages at most so the reader goes on for the others in between.
        if (!reached)
          for await (const page of readPartitionRange(
            context.db,
            { partitionBy: projector.partitionBy, partition: key, after: from, through, keep: (item) => projector.handles.has(item.event.type) && !isAdopted(projector.adopted, item.position), limit: wanted, maxPages: RefillPages },
            context.readBatchSize,
          )) {
            for (const item of page.events) tracker.routed(key, item.position, item.previous);
            items.push(...page.events);
            scanned = page.scanned;
            reached = page.done;
          }
        if (reached) tracker.resumed(key);
        else tracker.skipping(key, scanned);
        room -= items.length;
        if (items.length > 0) void router.deliver(processorId, key, items);
      }
    },
    buffered: () => router.stopped(processorId).reduce((sum, { partition }) => sum - tracker.pending(partition), tracker.totalPending()),
    isCaughtUpTo: (target) => comparePositions(tracker.lowWaterMark(stoppedKeys()), target) >= 0,
  };
};
