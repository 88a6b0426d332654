import type pg from 'pg';
import { PartitionKeyError, toErrorInfo, type WorkerError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { PartitionReport, PartitionSnapshot } from '../core/partitionScheduler.ts';
import { resolvePartitionKey } from '../core/partitionKey.ts';
import { progressTracker, type ProgressTracker } from '../core/progressTracker.ts';
import { comparePositions, isCovered, type Position } from '../core/position.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import { readPartitionRange } from '../postgres/readPartitionRange.ts';
import { recordDeadLetter } from '../postgres/recordDeadLetter.ts';
import type { PartitionEvents } from '../workers/messages.ts';
import { workerPool, type WorkerPool } from '../workers/workerPool.ts';
import type { PartitionStatus, ProjectorStatus } from './status.ts';

export type ProjectorRuntimeOptions = {
  projector: AnyPartitionedProjector;
  projectorsUrl: string;
  connectionString: string;
  hostId: string;
  db: pg.Pool;
  /** Checkpoints stored when the session began. */
  checkpoints: Map<string, Position>;
  /** Partitions halted in front of a dead letter when the session began: they get no events. */
  halted: ReadonlySet<string>;
  /** The stored low-water mark; the reader starts after the lowest of all projectors' marks. */
  mark: Position;
  logger: Logger;
  /**
   * In-process: events routed to one partition and not committed before the reader stops routing to it;
   * its later events are read again for it once its thread has worked half of them off.
   */
  maxPartitionPending?: number;
  /** Events per query when reading a skipped partition's events again. @default 1000 */
  readBatchSize?: number;
  /** See `WorkerData.idleInTransactionTimeoutMs`. */
  idleInTransactionTimeoutMs?: number;
  onProgress: () => void;
  onFailure: (error: WorkerError) => void;
};

/** A partition lease this host took: what its thread needs to commit under it. */
export type AssignedLease = { epoch: number; since: Date; checkpoint: Position | null; halted: boolean };

export type ProjectorRuntime = {
  readonly projector: AnyPartitionedProjector;
  readonly tracker: ProgressTracker;
  /** Routes one read batch that follows `after`: each handled event to its partition's thread, bad keys to dead letters. */
  route(events: readonly PositionedEvent[], after: Position): Promise<void>;
  /**
   * Reads again, for partitions the reader skipped because their buffers were full and that have
   * room again, their events up to `through` (the reader's position), and sends them on; no more
   * than `room` events in all (what the reader's overall cap leaves).
   */
  refill(through: Position, room: number): Promise<void>;
  /** True when a partition the reader skipped has room again. */
  refillable(): boolean;
  /**
   * Sends one partition's events from another transport to its thread; resolves true once the
   * partition has committed through the last of them, false if it stopped (halted or fenced) first.
   */
  deliver(partition: string, items: PositionedEvent[]): Promise<boolean>;
  /** The partition's last committed position known to this session. */
  checkpoint(partition: string): Position | null;
  /** Takes a partition under a new lease: its next events go to its thread with the lease and the stored checkpoint. */
  assign(partition: string, lease: AssignedLease): void;
  /** The partition is no longer this host's; deliveries still waiting for it settle as not committed. */
  release(partition: string): void;
  /** Weights of partitions in their threads' fair queuing. */
  setWeights(weights: ReadonlyMap<string, number>): void;
  /** Each thread's scheduler: per partition state, queued events, in flight, weight, dispatched. */
  snapshot(options?: { notable?: boolean }): Promise<{ thread: number; partitions: PartitionSnapshot[] }[]>;
  /** Routed events still buffered for partitions that can make progress. */
  buffered(): number;
  /** True when every partition that can make progress has committed everything up to `position`. */
  isCaughtUpTo(position: Position): boolean;
  /** Partitions that take no events this session: halted in front of a dead letter, or fenced. */
  stopped(): ReadonlyMap<string, 'halted' | 'fenced'>;
  status(): ProjectorStatus;
  stop(timeoutMs: number): Promise<void>;
  /** Resolves when the projector's threads are started and ready. */
  warm(): Promise<void>;
};

type Tracked = Omit<PartitionStatus, 'lag' | 'owner' | 'checkpoint'> & { checkpoint: Position | null; thread: number; sent: boolean };

/** Pages a refill reads for one partition before the reader takes its turn again. */
const RefillPages = 10;

const withoutUndefined = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/** One projector during one active session: its threads, partitions and progress. */
export const projectorRuntime = (options: ProjectorRuntimeOptions): ProjectorRuntime => {
  const { projector, logger } = options;
  const maxPartitionPending = options.maxPartitionPending ?? Number.POSITIVE_INFINITY;
  const readBatchSize = options.readBatchSize ?? 1000;
  const hasRoom = (key: string): boolean => !stopped.has(key) && tracker.pending(key) <= maxPartitionPending / 2;
  const tracker = progressTracker(options.mark);
  const partitions = new Map<string, Tracked>();
  const stopped = new Map<string, 'halted' | 'fenced'>();
  const stoppedKeys = (): ReadonlySet<string> => new Set(stopped.keys());

  const partition = (key: string): Tracked => {
    let tracked = partitions.get(key);
    if (tracked === undefined) {
      tracked = {
        partition: key,
        checkpoint: options.checkpoints.get(key) ?? null,
        state: 'idle',
        applied: 0,
        deadLettered: 0,
        thread: pool.threadFor(key),
        sent: false,
      };
      partitions.set(key, tracked);
    }
    return tracked;
  };

  const deliveries = new Map<string, { through: Position; settle: (committed: boolean) => void }[]>();
  const settleDeliveries = (key: string, checkpoint: Position | null, stoppedNow: boolean): void => {
    const waiting = deliveries.get(key);
    if (waiting === undefined) return;
    const open = waiting.filter((delivery) => {
      if (isCovered(delivery.through, checkpoint)) delivery.settle(true);
      else if (stoppedNow) delivery.settle(false);
      else return true;
      return false;
    });
    if (open.length === 0) deliveries.delete(key);
    else deliveries.set(key, open);
  };

  const onReports = (reports: PartitionReport<Position>[]): void => {
    for (const report of reports) {
      settleDeliveries(report.partition, report.checkpoint, report.state === 'halted' || report.state === 'fenced');
      // A late report of a partition this host gave up.
      if (!partitions.has(report.partition)) continue;
      const tracked = partition(report.partition);
      tracked.state = report.state;
      tracked.checkpoint = report.checkpoint;
      tracked.applied += report.applied;
      tracked.deadLettered += report.deadLettered;
      tracked.lastError = report.error;
      if (report.checkpoint !== null) tracker.committed(report.partition, report.checkpoint);
      if ((report.state === 'fenced' || report.state === 'halted') && !stopped.has(report.partition)) {
        stopped.set(report.partition, report.state);
        logger.warn(
          report.state === 'fenced'
            ? `${projector.processorId}/${report.partition}: stopped here: ${report.error?.message ?? 'another owner committed for it'}`
            : `${projector.processorId}/${report.partition}: halted in front of a dead letter: ${report.error?.message ?? ''}`,
        );
      }
    }
    options.onProgress();
  };

  const pool: WorkerPool = workerPool({
    projector,
    projectorsUrl: options.projectorsUrl,
    connectionString: options.connectionString,
    instanceId: options.hostId,
    idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs,
    onReports,
    onFailure: options.onFailure,
    onWarning: (message) => options.logger.warn(message),
  });

  for (const key of options.checkpoints.keys()) partition(key);
  for (const key of options.halted) {
    partition(key).state = 'halted';
    stopped.set(key, 'halted');
  }

  const deadLetterKeyless = async (item: PositionedEvent, error: Error): Promise<void> => {
    logger.warn(`${projector.processorId}: event at ${item.position.global} dead-lettered: ${error.message}`);
    await recordDeadLetter(options.db, { processorId: projector.processorId, partition: null, item, error: toErrorInfo(error), attempts: 1, policy: 'skip' });
  };

  const send = (key: string, tracked: Tracked, items: PositionedEvent[]): PartitionEvents => {
    const batch: PartitionEvents = tracked.sent
      ? { partition: key, events: items }
      : withoutUndefined({ partition: key, checkpoint: tracked.checkpoint, lease: tracked.epoch, events: items });
    tracked.sent = true;
    return batch;
  };

  return {
    projector,
    tracker,
    deliver(key, delivered) {
      // Streams carry every event type of the tenant; the projector's threads get only what it handles.
      const items = delivered.filter((item) => projector.handles.has(item.event.type));
      const last = items.at(-1);
      if (last === undefined || stopped.has(key)) return Promise.resolve(last === undefined);
      const tracked = partition(key);
      return new Promise<boolean>((resolve) => {
        deliveries.set(key, [...(deliveries.get(key) ?? []), { through: last.position, settle: resolve }]);
        pool.send(tracked.thread, [send(key, tracked, items)]);
      });
    },
    async route(events, after) {
      const outgoing = new Map<number, Map<string, PartitionEvents>>();
      let previous = after;
      for (const item of events) {
        const { event, position } = item;
        const before = previous;
        previous = position;
        if (isCovered(position, options.mark)) continue;
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
        if (tracker.skippedFrom(key.key) !== undefined) continue;
        if (tracker.pending(key.key) >= maxPartitionPending) {
          tracker.skipping(key.key, before);
          continue;
        }
        const tracked = partition(key.key);
        tracker.routed(key.key, position, before);
        if (stopped.has(key.key)) continue;
        let byPartition = outgoing.get(tracked.thread);
        if (byPartition === undefined) outgoing.set(tracked.thread, (byPartition = new Map<string, PartitionEvents>()));
        let batch = byPartition.get(key.key);
        if (batch === undefined) {
          batch = send(key.key, tracked, []);
          byPartition.set(key.key, batch);
        }
        batch.events.push(item);
      }
      for (const [thread, byPartition] of outgoing) pool.send(thread, [...byPartition.values()]);
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
        const tracked = partition(key);
        const items: PositionedEvent[] = [];
        let scanned = from;
        let reached = comparePositions(from, through) >= 0;
        // Half a buffer, or a few pages at most so the reader goes on for the others in between.
        if (!reached)
          for await (const page of readPartitionRange(
            options.db,
            { partitionBy: projector.partitionBy, partition: key, after: from, through, keep: (item) => projector.handles.has(item.event.type), limit: wanted, maxPages: RefillPages },
            readBatchSize,
          )) {
            for (const item of page.events) tracker.routed(key, item.position, item.previous);
            items.push(...page.events);
            scanned = page.scanned;
            reached = page.done;
          }
        if (reached) tracker.resumed(key);
        else tracker.skipping(key, scanned);
        room -= items.length;
        if (items.length > 0) pool.send(tracked.thread, [send(key, tracked, items)]);
      }
    },
    assign(key, lease) {
      const tracked = partition(key);
      Object.assign(tracked, { sent: false, checkpoint: lease.checkpoint, epoch: lease.epoch, since: lease.since, state: lease.halted ? 'halted' : 'idle' });
      stopped.delete(key);
      if (lease.halted) stopped.set(key, 'halted');
    },
    release(key) {
      settleDeliveries(key, null, true);
      partitions.delete(key);
      stopped.delete(key);
      pool.release(key);
    },
    setWeights: (weights) => pool.setWeights(weights),
    snapshot: (options) => pool.snapshot(options),
    checkpoint: (key) => partitions.get(key)?.checkpoint ?? options.checkpoints.get(key) ?? null,
    buffered: () => [...stopped.keys()].reduce((sum, key) => sum - tracker.pending(key), tracker.totalPending()),
    isCaughtUpTo: (target) => comparePositions(tracker.lowWaterMark(stoppedKeys()), target) >= 0,
    stopped: () => stopped,
    status: () => ({
      processorId: projector.processorId,
      lowWaterMark: tracker.lowWaterMark().global,
      threads: pool.threads(),
      partitions: [...partitions.values()].map(({ thread, sent: _sent, checkpoint, ...rest }) => withoutUndefined({
        ...rest,
        checkpoint: checkpoint?.global ?? null,
        lag: tracker.pending(rest.partition),
        owner: `${options.hostId}/${projector.processorId}/${thread}`,
      })),
    }),
    stop: (timeoutMs) => pool.stop(timeoutMs),
    warm: () => pool.warm(),
  };
};
