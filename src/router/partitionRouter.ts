import type { WorkerError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { PartitionSnapshot } from '../core/partitionScheduler.ts';
import { partitionIdentity } from '../core/partitionIdentity.ts';
import { isAdopted } from '../core/adoptedCheckpoint.ts';
import { comparePositions, isCovered, type Position } from '../core/position.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import type { PartitionEvents, ProcessorReport } from '../workers/messages.ts';
import type { AppliedBatch } from '../tracing/batchSpans.ts';
import type { ThreadPool } from '../workers/threadPool.ts';
import type { PartitionStatus, ProjectorStatus } from './status.ts';

/** How a partition starts on this host: its stored checkpoint, and the lease it commits under when hosts share partitions. */
export type PartitionStart = { checkpoint: Position | null; lease?: { epoch: number; since: Date }; halted?: boolean };

export type StoppedPartition = { processorId: string; partition: string; state: 'halted' | 'fenced' };

/** Hooks telemetry hangs on a router: ownership changes and applied batches (only when `wantsBatches()`, which collecting trace contexts costs). */
export type RouterObserver = {
  ownership?(processorId: string, partition: string, change: 'acquired' | 'released'): void;
  wantsBatches?(): boolean;
  batch?(batch: AppliedBatch): void;
};

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
  /** Grows with every delivery and report: when it has not moved, neither has the status. */
  version(): number;
  /**
   * Per projector and partition on this host; `lowWaterMark` where the source keeps one. With
   * `changedAfter` (a `version()` seen before), only the partitions delivered to, reported on or
   * opened since.
   */
  status(lowWaterMark?: (processorId: string) => bigint, options?: { changedAfter?: number }): ProjectorStatus[];
  /** Partitions on this host, across projectors. */
  partitionCount(): number;
  stop(timeoutMs: number): Promise<void>;
};

/**
 * Events sent to a thread (or refused while the partition is stopped) in delivery order, with when
 * each was appended (or arrived, where the source does not know); settled once the last is committed.
 */
type Pending = { positions: Position[]; appendedAt: number[]; traceparents?: (string | undefined)[] };
type Delivery = Pending & { settle: (committed: boolean) => void };
type Tracked = Omit<PartitionStatus, 'lag' | 'lagSeconds' | 'owner' | 'checkpoint' | 'head'> & {
  checkpoint: Position | null;
  thread: number;
  sent: boolean;
  lease?: number;
  /** The last event of the partition delivered here. */
  head: Position | null;
  /** Events delivered while the partition was stopped, or left over when it stopped: not applied. */
  refused: Pending;
  /** The router's version when the partition last changed. */
  changed: number;
};

/** Index of the first position `checkpoint` does not cover; positions are in delivery order. */
const firstUncovered = (positions: readonly Position[], checkpoint: Position | null): number => {
  let low = 0;
  for (let high = positions.length; low < high; ) {
    const middle = (low + high) >>> 1;
    if (isCovered(positions[middle]!, checkpoint)) low = middle + 1;
    else high = middle;
  }
  return low;
};

/** Events of `pending` past `checkpoint`, and when the oldest of them was appended. */
const notApplied = (pending: readonly Pending[], checkpoint: Position | null): { events: number; oldest: number | undefined } => {
  let events = 0;
  let oldest: number | undefined;
  for (const { positions, appendedAt } of pending) {
    const first = firstUncovered(positions, checkpoint);
    events += positions.length - first;
    if (first < positions.length) oldest = Math.min(oldest ?? Infinity, appendedAt[first]!);
  }
  return { events, oldest };
};

/** Keeps what `checkpoint` does not cover, in order. */
const dropCovered = (pending: Pending, checkpoint: Position | null): Pending => {
  const first = firstUncovered(pending.positions, checkpoint);
  return first === 0 ? pending : { positions: pending.positions.slice(first), appendedAt: pending.appendedAt.slice(first) };
};

/** The applied part of `pending` between two checkpoints: its first position, and the trace contexts its events carry. */
const appliedBetween = (pending: readonly Pending[], before: Position | null, after: Position): { first: bigint | undefined; traceparents: string[] } => {
  let first: bigint | undefined;
  const traceparents: string[] = [];
  for (const { positions, traceparents: contexts } of pending) {
    for (let i = firstUncovered(positions, before); i < positions.length && isCovered(positions[i]!, after); i++) {
      first ??= positions[i]!.global;
      const context = contexts?.[i];
      if (context !== undefined) traceparents.push(context);
    }
  }
  return { first, traceparents };
};

const traceparentOf = (metadata: unknown): string | undefined => {
  const value = (metadata as { traceparent?: unknown } | undefined)?.traceparent;
  return typeof value === 'string' ? value : undefined;
};

const NoneRefused: Pending = { positions: [], appendedAt: [] };

/** `b` after `a`: appended to `a` in place (each entry owns its refused arrays), except to the shared empty one. */
const joined = (a: Pending, b: Pending): Pending => {
  if (b.positions.length === 0) return a;
  if (a === NoneRefused) return { positions: [...b.positions], appendedAt: [...b.appendedAt] };
  for (let i = 0; i < b.positions.length; i++) {
    a.positions.push(b.positions[i]!);
    a.appendedAt.push(b.appendedAt[i]!);
  }
  return a;
};

const withoutUndefined = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/** A partition's status as sources and the status writer read it; optional fields only where set. */
const partitionStatus = (entry: Tracked, waiting: readonly Delivery[], now: number, owner: string): PartitionStatus => {
  const { checkpoint, head } = entry;
  const { events, oldest } = notApplied([entry.refused, ...waiting], checkpoint);
  const status: PartitionStatus = {
    partition: entry.partition,
    checkpoint: checkpoint?.global ?? null,
    head: head === null || (checkpoint !== null && comparePositions(head, checkpoint) < 0) ? (checkpoint?.global ?? null) : head.global,
    lag: events,
    lagSeconds: oldest === undefined ? 0 : Math.max(0, now - oldest) / 1000,
    thread: entry.thread,
    owner,
    state: entry.state,
    applied: entry.applied,
    deadLettered: entry.deadLettered,
  };
  if (oldest !== undefined) status.oldestUnappliedAt = new Date(oldest);
  if (entry.since !== undefined) status.since = entry.since;
  if (entry.epoch !== undefined) status.epoch = entry.epoch;
  if (entry.lastError !== undefined) status.lastError = entry.lastError;
  return status;
};

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
  observer?: RouterObserver;
}): PartitionRouter => {
  const { pool, logger } = context;
  const byId = new Map(context.projectors.map((projector) => [projector.processorId, projector]));
  const partitions = new Map<string, Map<string, Tracked>>(context.projectors.map((projector) => [projector.processorId, new Map()]));
  const stoppedPartitions = new Map<string, Map<string, 'halted' | 'fenced'>>(context.projectors.map((projector) => [projector.processorId, new Map()]));
  const deliveries = new Map<string, Delivery[]>();
  const listeners: ((report: ProcessorReport) => void)[] = [];
  let version = 0;

  const projectorOf = (processorId: string): AnyPartitionedProjector => {
    const projector = byId.get(processorId);
    if (projector === undefined) throw new RangeError(`no projector '${processorId}' in this engine`);
    return projector;
  };

  const tracked = (processorId: string, key: string): Tracked => {
    const own = partitions.get(processorId)!;
    let entry = own.get(key);
    if (entry === undefined) {
      entry = { partition: key, checkpoint: null, head: null, refused: NoneRefused, state: 'idle', applied: 0, deadLettered: 0, thread: pool.threadFor(processorId, key), sent: false, changed: version };
      own.set(key, entry);
    }
    return entry;
  };

  /** Settles the deliveries `checkpoint` covers; when the partition stopped, the others too (what they leave unapplied is kept as refused). */
  const settle = (identity: string, checkpoint: Position | null, stoppedNow: boolean, entry?: Tracked): void => {
    const waiting = deliveries.get(identity);
    if (waiting === undefined) return;
    const open = waiting.filter((delivery) => {
      if (isCovered(delivery.positions.at(-1)!, checkpoint)) delivery.settle(true);
      else if (stoppedNow) {
        if (entry !== undefined) entry.refused = joined(entry.refused, dropCovered(delivery, checkpoint));
        delivery.settle(false);
      } else return true;
      return false;
    });
    if (open.length === 0) deliveries.delete(identity);
    else deliveries.set(identity, open);
  };

  /**
   * Logged once each, with the partition and its figures: a batch cut off (every one: each terminated
   * a backend), the first failure of a run of retries, a halt, a fence. Nothing on a correct run.
   */
  const logTransition = (report: ProcessorReport, entry: Tracked): void => {
    const { processorId, partition, state, error } = report;
    // Most reports are plain commits: nothing to log, and the figures are not worked out.
    if (state === entry.state && state !== 'retrying') return;
    const details = (): Record<string, unknown> => ({
      processorId,
      partition,
      checkpoint: report.checkpoint?.global.toString() ?? null,
      lag: notApplied([entry.refused, ...(deliveries.get(partitionIdentity(processorId, partition)) ?? [])], report.checkpoint).events,
      ...(error === undefined ? {} : { error: error.message }),
    });
    if (state === 'retrying' && error?.name === 'BatchTimeoutError') logger.warn(`${processorId}/${partition}: ${error.message}; retrying`, details());
    else if (state === 'retrying' && entry.state !== 'retrying') logger.warn(`${processorId}/${partition}: a batch failed, retrying: ${error?.message ?? ''}`, details());
    else if (state === 'halted') logger.warn(`${processorId}/${partition}: halted in front of a dead letter: ${error?.message ?? ''}`, details());
    else if (state === 'fenced') logger.warn(`${processorId}/${partition}: stopped here: ${error?.message ?? 'another owner committed for it'}`, details());
    else if (entry.state === 'retrying' && (state === 'running' || state === 'idle' || state === 'ready')) logger.info(`${processorId}/${partition}: applying again after retries`, details());
  };

  pool.listen({
    onReports: (reports) => {
      version++;
      for (const report of reports) {
        const stoppedNow = report.state === 'halted' || report.state === 'fenced';
        // A late report of a partition this host gave up has no entry.
        const entry = partitions.get(report.processorId)?.get(report.partition);
        if (entry !== undefined && report.batch !== undefined && report.checkpoint !== null && context.observer?.wantsBatches?.() === true) {
          const waiting = deliveries.get(partitionIdentity(report.processorId, report.partition)) ?? [];
          const { first, traceparents } = appliedBetween(waiting, entry.checkpoint, report.checkpoint);
          context.observer.batch?.({
            processorId: report.processorId,
            partition: report.partition,
            firstPosition: first ?? report.checkpoint.global,
            lastPosition: report.checkpoint.global,
            events: report.applied,
            ...report.batch,
            traceparents,
          });
        }
        settle(partitionIdentity(report.processorId, report.partition), report.checkpoint, stoppedNow, entry);
        if (entry === undefined) continue;
        entry.changed = version;
        entry.refused = dropCovered(entry.refused, report.checkpoint);
        logTransition(report, entry);
        entry.state = report.state;
        entry.checkpoint = report.checkpoint;
        entry.applied += report.applied;
        entry.deadLettered += report.deadLettered;
        entry.lastError = report.error;
        const stopped = stoppedPartitions.get(report.processorId)!;
        if (stoppedNow && !stopped.has(report.partition)) stopped.set(report.partition, report.state as 'halted' | 'fenced');
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
      context.observer?.ownership?.(processorId, key, 'acquired');
      const entry = tracked(processorId, key);
      version++;
      Object.assign(entry, { sent: false, refused: NoneRefused, checkpoint: start.checkpoint, lease: start.lease?.epoch, epoch: start.lease?.epoch, since: start.lease?.since, state: start.halted === true ? 'halted' : 'idle', changed: version });
      const stopped = stoppedPartitions.get(processorId)!;
      stopped.delete(key);
      if (start.halted === true) stopped.set(key, 'halted');
    },
    deliver(processorId, key, delivered) {
      const projector = projectorOf(processorId);
      const events = delivered.filter((item) => projector.handles.has(item.event.type) && !isAdopted(projector.adopted, item.position));
      const last = events.at(-1);
      if (last === undefined) return Promise.resolve(true);
      version++;
      const open = partitions.get(processorId)!.has(key);
      if (!context.opensOnDelivery && !open) return Promise.resolve(false);
      const entry = tracked(processorId, key);
      entry.head = last.position;
      entry.changed = version;
      const now = Date.now();
      const pending: Pending = { positions: events.map((item) => item.position), appendedAt: events.map((item) => item.appendedAt ?? now) };
      if (context.observer?.wantsBatches?.() === true) pending.traceparents = events.map((item) => traceparentOf(item.event.metadata));
      if (stoppedPartitions.get(processorId)!.has(key)) {
        entry.refused = joined(entry.refused, pending);
        return Promise.resolve(false);
      }
      const identity = partitionIdentity(processorId, key);
      return new Promise<boolean>((resolve) => {
        const waiting = deliveries.get(identity);
        const delivery = { ...pending, settle: resolve };
        if (waiting === undefined) deliveries.set(identity, [delivery]);
        else waiting.push(delivery);
        pool.send(entry.thread, [batchFor(processorId, key, entry, events)]);
      });
    },
    version: () => version,
    release(processorId, key) {
      if (partitions.get(processorId)?.has(key) === true) context.observer?.ownership?.(processorId, key, 'released');
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
    status: (lowWaterMark, options) => {
      const now = Date.now();
      const changedAfter = options?.changedAfter ?? -1;
      return context.projectors.map(({ processorId }) => {
        const owned = partitions.get(processorId)!;
        const statuses: PartitionStatus[] = [];
        for (const entry of owned.values())
          if (entry.changed > changedAfter)
            statuses.push(partitionStatus(entry, deliveries.get(partitionIdentity(processorId, entry.partition)) ?? [], now, `${context.hostId}/${processorId}/${entry.thread}`));
        return { processorId, lowWaterMark: lowWaterMark?.(processorId) ?? 0n, threads: pool.threadsOf(processorId), partitions: statuses };
      });
    },
    partitionCount: () => {
      let count = 0;
      for (const owned of partitions.values()) count += owned.size;
      return count;
    },
    stop: (timeoutMs) => pool.stop(timeoutMs),
  };
};
