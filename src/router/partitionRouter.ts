import type { WorkerError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { PartitionSnapshot } from '../core/partitionScheduler.ts';
import { partitionIdentity } from '../core/partitionIdentity.ts';
import { isCovered, type Position } from '../core/position.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import type { PartitionEvents, ProcessorReport } from '../workers/messages.ts';
import type { ThreadPool } from '../workers/threadPool.ts';
import type { PartitionStatus, ProjectorStatus } from './status.ts';

/** How a partition starts on this host: its stored checkpoint, and the lease it commits under when hosts share partitions. */
export type PartitionStart = { checkpoint: Position | null; lease?: { epoch: number; since: Date }; halted?: boolean };

export type StoppedPartition = { processorId: string; partition: string; state: 'halted' | 'fenced' };

export type PartitionRouter = {
  readonly projectors: readonly AnyPartitionedProjector[];
  projector(processorId: string): AnyPartitionedProjector;
  /**
   * Starts a partition on this host, or starts it again (a new lease): its next events go to its
   * thread with this checkpoint. A partition never opened starts from no checkpoint.
   */
  open(processorId: string, partition: string, start: PartitionStart): void;
  /**
   * Sends one partition's events (in delivery order) to its thread; resolves true once the partition
   * has committed through the last of them, false if it stopped (halted or fenced) first. Events of
   * types the projector does not handle are dropped here.
   */
  deliver(processorId: string, partition: string, events: PositionedEvent[]): Promise<boolean>;
  /** The partition is no longer this host's: its thread forgets it, deliveries waiting settle false. */
  release(processorId: string, partition: string): void;
  /** The partition's last committed position known here. */
  checkpoint(processorId: string, partition: string): Position | null;
  /** Partitions that take no events: halted in front of a dead letter, or fenced. */
  stopped(processorId?: string): StoppedPartition[];
  isStopped(processorId: string, partition: string): boolean;
  /** Called with every commit or state change a thread reports, after the router took it in. */
  onReport(listener: (report: ProcessorReport) => void): void;
  setWeights(processorId: string, weights: ReadonlyMap<string, number>): void;
  snapshot(options?: { notable?: boolean }): Promise<{ processorId: string; thread: number; partitions: PartitionSnapshot[] }[]>;
  /** Per projector and partition on this host; `lowWaterMark` where the source keeps one. */
  status(lowWaterMark?: (processorId: string) => bigint): ProjectorStatus[];
  stop(timeoutMs: number): Promise<void>;
};

type Tracked = Omit<PartitionStatus, 'lag' | 'owner' | 'checkpoint'> & { checkpoint: Position | null; thread: number; sent: boolean; lease?: number };
/** Events sent to a thread in one delivery, in delivery order; settled once the last is committed. */
type Delivery = { positions: Position[]; settle: (committed: boolean) => void };

/** Events of the deliveries past `checkpoint`: sent to the thread and not committed. */
const notCommitted = (waiting: readonly Delivery[] | undefined, checkpoint: Position | null): number => {
  let count = 0;
  for (const { positions } of waiting ?? []) {
    // Positions are in delivery order: skip the committed head with a binary search.
    let low = 0;
    for (let high = positions.length; low < high; ) {
      const middle = (low + high) >>> 1;
      if (isCovered(positions[middle]!, checkpoint)) low = middle + 1;
      else high = middle;
    }
    count += positions.length - low;
  }
  return count;
};

const withoutUndefined = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/*
 * The transport-agnostic middle of the engine: sources deliver partitions' events here, the router
 * sends them to the partition's thread (the first batch of a partition carries its checkpoint and
 * lease), takes the threads' reports in, settles deliveries, and keeps each partition's state for
 * status. It reads nothing and writes nothing: sources read, threads write.
 */
export const partitionRouter = (context: {
  projectors: readonly AnyPartitionedProjector[];
  pool: ThreadPool;
  hostId: string;
  logger: Logger;
  /**
   * Whether a partition nobody opened starts (from no checkpoint) on its first delivery, as the store
   * source's new tenants do; over JetStream only leased partitions take events, and a delivery for
   * one that is not (any more) refuses with false.
   */
  opensOnDelivery: boolean;
  onProgress: () => void;
  onFailure: (error: WorkerError) => void;
}): PartitionRouter => {
  const { pool, logger } = context;
  const byId = new Map(context.projectors.map((projector) => [projector.processorId, projector]));
  const partitions = new Map<string, Map<string, Tracked>>(context.projectors.map((projector) => [projector.processorId, new Map()]));
  const stoppedPartitions = new Map<string, Map<string, 'halted' | 'fenced'>>(context.projectors.map((projector) => [projector.processorId, new Map()]));
  const deliveries = new Map<string, Delivery[]>();
  const listeners: ((report: ProcessorReport) => void)[] = [];

  const projectorOf = (processorId: string): AnyPartitionedProjector => {
    const projector = byId.get(processorId);
    if (projector === undefined) throw new RangeError(`no projector '${processorId}' in this engine`);
    return projector;
  };

  const tracked = (processorId: string, key: string): Tracked => {
    const own = partitions.get(processorId)!;
    let entry = own.get(key);
    if (entry === undefined) {
      entry = { partition: key, checkpoint: null, state: 'idle', applied: 0, deadLettered: 0, thread: pool.threadFor(processorId, key), sent: false };
      own.set(key, entry);
    }
    return entry;
  };

  const settle = (identity: string, checkpoint: Position | null, stoppedNow: boolean): void => {
    const waiting = deliveries.get(identity);
    if (waiting === undefined) return;
    const open = waiting.filter((delivery) => {
      if (isCovered(delivery.positions.at(-1)!, checkpoint)) delivery.settle(true);
      else if (stoppedNow) delivery.settle(false);
      else return true;
      return false;
    });
    if (open.length === 0) deliveries.delete(identity);
    else deliveries.set(identity, open);
  };

  pool.listen({
    onReports: (reports) => {
      for (const report of reports) {
        const stoppedNow = report.state === 'halted' || report.state === 'fenced';
        settle(partitionIdentity(report.processorId, report.partition), report.checkpoint, stoppedNow);
        // A late report of a partition this host gave up.
        const entry = partitions.get(report.processorId)?.get(report.partition);
        if (entry === undefined) continue;
        entry.state = report.state;
        entry.checkpoint = report.checkpoint;
        entry.applied += report.applied;
        entry.deadLettered += report.deadLettered;
        entry.lastError = report.error;
        const stopped = stoppedPartitions.get(report.processorId)!;
        if (stoppedNow && !stopped.has(report.partition)) {
          stopped.set(report.partition, report.state as 'halted' | 'fenced');
          logger.warn(
            report.state === 'fenced'
              ? `${report.processorId}/${report.partition}: stopped here: ${report.error?.message ?? 'another owner committed for it'}`
              : `${report.processorId}/${report.partition}: halted in front of a dead letter: ${report.error?.message ?? ''}`,
          );
        }
        for (const listener of listeners) listener(report);
      }
      context.onProgress();
    },
    onFailure: context.onFailure,
    onWarning: (message) => logger.warn(message),
  });

  const batchFor = (processorId: string, key: string, entry: Tracked, events: PositionedEvent[]): PartitionEvents => {
    const batch: PartitionEvents = entry.sent
      ? { processorId, partition: key, events }
      : withoutUndefined({ processorId, partition: key, checkpoint: entry.checkpoint, lease: entry.lease, events });
    entry.sent = true;
    return batch;
  };

  return {
    projectors: context.projectors,
    projector: projectorOf,
    open(processorId, key, start) {
      projectorOf(processorId);
      // Opened again (a new lease): the thread forgets what it held of the partition first.
      if (partitions.get(processorId)!.has(key)) pool.release(processorId, key);
      const entry = tracked(processorId, key);
      Object.assign(entry, { sent: false, checkpoint: start.checkpoint, lease: start.lease?.epoch, epoch: start.lease?.epoch, since: start.lease?.since, state: start.halted === true ? 'halted' : 'idle' });
      const stopped = stoppedPartitions.get(processorId)!;
      stopped.delete(key);
      if (start.halted === true) stopped.set(key, 'halted');
    },
    deliver(processorId, key, delivered) {
      const projector = projectorOf(processorId);
      const events = delivered.filter((item) => projector.handles.has(item.event.type));
      const last = events.at(-1);
      if (last === undefined) return Promise.resolve(true);
      if (stoppedPartitions.get(processorId)!.has(key)) return Promise.resolve(false);
      if (!context.opensOnDelivery && !partitions.get(processorId)!.has(key)) return Promise.resolve(false);
      const entry = tracked(processorId, key);
      const identity = partitionIdentity(processorId, key);
      return new Promise<boolean>((resolve) => {
        const waiting = deliveries.get(identity);
        const delivery = { positions: events.map((item) => item.position), settle: resolve };
        if (waiting === undefined) deliveries.set(identity, [delivery]);
        else waiting.push(delivery);
        pool.send(entry.thread, [batchFor(processorId, key, entry, events)]);
      });
    },
    release(processorId, key) {
      settle(partitionIdentity(processorId, key), null, true);
      partitions.get(processorId)?.delete(key);
      stoppedPartitions.get(processorId)?.delete(key);
      pool.release(processorId, key);
    },
    checkpoint: (processorId, key) => partitions.get(processorId)?.get(key)?.checkpoint ?? null,
    stopped: (processorId) =>
      [...stoppedPartitions]
        .filter(([id]) => processorId === undefined || id === processorId)
        .flatMap(([id, stopped]) => [...stopped].map(([partition, state]) => ({ processorId: id, partition, state }))),
    isStopped: (processorId, key) => stoppedPartitions.get(processorId)?.has(key) === true,
    onReport: (listener) => void listeners.push(listener),
    setWeights: (processorId, weights) => pool.setWeights(processorId, weights),
    snapshot: (options) => pool.snapshot(options),
    status: (lowWaterMark) =>
      context.projectors.map((projector) => ({
        processorId: projector.processorId,
        lowWaterMark: lowWaterMark?.(projector.processorId) ?? 0n,
        threads: pool.threadsOf(projector.processorId),
        partitions: [...partitions.get(projector.processorId)!.values()].map(({ thread, sent: _sent, lease: _lease, checkpoint, ...rest }) =>
          withoutUndefined({
            ...rest,
            checkpoint: checkpoint?.global ?? null,
            lag: notCommitted(deliveries.get(partitionIdentity(projector.processorId, rest.partition)), checkpoint),
            owner: `${context.hostId}/${projector.processorId}/${thread}`,
          }),
        ),
      })),
    stop: (timeoutMs) => pool.stop(timeoutMs),
  };
};
