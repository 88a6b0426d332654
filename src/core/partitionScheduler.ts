import { minHeap } from './minHeap.ts';
import { backoffDelay, type ResolvedBackoffOptions } from './backoff.ts';
import { OwnershipLostError, toErrorInfo, type ErrorInfo } from './errors.ts';
import type { TransactionSlots } from './transactionSlots.ts';

/*
 * The partition runner's scheduler inside one worker thread.
 *
 * Each partition has a queue. A partition is in exactly one of:
 *   idle      — nothing queued
 *   ready     — queued events, waiting in the round-robin ready list for a free transaction slot
 *   running   — one batch in flight (never more: FIFO per partition)
 *   retrying  — its last batch threw; a timer puts it back in ready after backoff
 *   halted    — an event failed every attempt under the `halt` policy; it takes no more events
 *   fenced    — a commit found another owner's checkpoint; it takes no more events this session
 * Transient errors (the database is away) are retried with backoff for as long as they last and never
 * count as attempts. After `retries` failed attempts the batch is bisected: its first half is tried
 * alone, halving again on failure, so the events before the bad one commit in order and the bad one
 * is found in about log2(batch) transactions. That event is dead-lettered: under `skip` the checkpoint
 * moves past it (recorded) and the rest goes on; under `halt` the partition stops in front of it.
 *
 * With `applyGroup`, a free slot takes the next ready partition and, behind it in the same fair order,
 * more ready partitions while their batches together stay within one batch: one transaction commits
 * them all (each with its own checkpoint). A group that does not commit goes back to the ready queue,
 * each partition to run alone (in parallel, as slots free up), so failures, fencing and bisecting stay
 * per partition. A partition that is retrying or bisecting, or whose last transaction took longer than
 * `SlowTransactionMs`, runs alone: a slow tenant holds up a group once, not every group it could join.
 */

/** A partition whose last transaction took longer than this runs alone until one is quick again. */
export const SlowTransactionMs = 100;

/** The least share of the active weight a partition with events waiting gets. */
export const DefaultMinShare = 0.01;

export type { BatchTiming, CommitOutcome, FailurePolicy, PartitionReport, PartitionSnapshot, PartitionState } from './partitionReport.ts';
import type { BatchTiming, CommitOutcome, FailurePolicy, PartitionReport, PartitionSnapshot, PartitionState } from './partitionReport.ts';

/** `E` is a queued event, `C` the checkpoint type the commits return. */
export type PartitionSchedulerOptions<E, C> = {
  /** Transactions of this scheduler open at once. */
  concurrency: number;
  /**
   * The thread's transaction slots, shared with the schedulers of other projectors on the thread: a
   * batch starts only with a slot, and a slot another scheduler frees may start one here.
   */
  slots?: TransactionSlots;
  batchSize: number;
  /**
   * Weighted fair queuing of the next batch: each partition's share of dispatched events follows its
   * weight (default 1); no active partition's effective weight falls below `minShare` of the active
   * total, so none starves behind heavy ones.
   */
  minShare?: number;
  retries: number;
  backoff: ResolvedBackoffOptions;
  then: FailurePolicy;
  /** Errors that say the infrastructure is away, not that the events are bad. */
  isTransient: (error: unknown) => boolean;
  apply: (partition: string, checkpoint: C | null, events: E[]) => Promise<CommitOutcome<C>>;
  /** Dead-letters one event and moves the checkpoint past it, atomically (`skip`). */
  skip: (partition: string, checkpoint: C | null, event: E, error: ErrorInfo, attempts: number) => Promise<CommitOutcome<C>>;
  /** Dead-letters one event without moving the checkpoint (`halt`). */
  halt: (partition: string, event: E, error: ErrorInfo, attempts: number) => Promise<void>;
  report: (report: PartitionReport<C>) => void;
  /**
   * Commits several partitions' batches in one transaction: each one's outcome when all committed,
   * undefined (or a rejection) when nothing was committed.
   */
  applyGroup?: (batches: GroupBatch<E, C>[]) => Promise<CommitOutcome<C>[] | undefined>;
  /** Most partitions in one group. @default 1 (no groups) */
  groupPartitions?: number;
  /** Something worth an operator's look that is not a partition's own error (at most once a minute). */
  warn?: (message: string) => void;
};

export type GroupBatch<E, C> = { partition: string; checkpoint: C | null; events: E[] };

type Partition<E, C> = {
  key: string;
  queue: E[];
  checkpoint: C | null;
  state: PartitionState;
  /** Attempts at the current batch that failed for a reason other than an outage. */
  failures: number;
  lastError?: ErrorInfo;
  /** While bisecting: how many events from the queue head the next attempt takes; 0 otherwise. */
  probe: number;
  /** While bisecting: events of the failed batch not yet committed or dead-lettered. */
  suspects: number;
  /** Given up (its lease went elsewhere): a batch still in flight settles without a trace. */
  released?: boolean;
  /** Weighted fair queuing: virtual start of its next batch, virtual finish of its last one. */
  start: number;
  finish: number;
  dispatched: number;
  /** Events dispatched, for the snapshot. */
  dispatchedEvents: number;
  /** Runs alone next time: its group did not commit, or its last transaction was slow. */
  alone?: boolean;
  /** Its virtual finish before its current batch was dispatched, to undo a group that did not commit. */
  finishBefore?: number;
};


export type PartitionScheduler<E, C> = {
  /** Queues events for a partition; `checkpoint` is the stored one, given with a partition's first events. */
  enqueue(partition: string, events: E[], checkpoint?: C | null): void;
  /**
   * Forgets a partition this thread no longer owns: its queue is dropped, a batch in flight finishes
   * unreported; events queued for it later start it afresh from the checkpoint they bring.
   */
  release(partition: string): void;
  /** Changes a partition's weight (default 1) from its next batch on. */
  setWeight(partition: string, weight: number): void;
  /** Per partition: state, queued events, batches in flight, weight, batches and events dispatched. */
  snapshot(options?: { notable?: boolean }): PartitionSnapshot[];
  /** Resolves when nothing is in flight; no new batch starts afterwards. */
  drain(): Promise<void>;
  inFlight(): number;
};

export const partitionScheduler = <E, C>(options: PartitionSchedulerOptions<E, C>): PartitionScheduler<E, C> => {
  const partitions = new Map<string, Partition<E, C>>();
  const weights = new Map<string, number>();
  const weightOf = (key: string): number => weights.get(key) ?? 1;
  const minShare = options.minShare ?? DefaultMinShare;
  // Start-time fair queuing: the ready partition with the lowest virtual start goes next; a batch of
  // n events moves its partition's finish by n / effective weight; virtual time is the last start.
  const ready = minHeap<Partition<E, C>>((p) => p.start);
  let virtualTime = 0;
  let activeWeight = 0;
  let dispatches = 0;
  const effectiveWeight = (p: Partition<E, C>): number => Math.max(weightOf(p.key), minShare * activeWeight);
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let running = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  const report = (p: Partition<E, C>, applied: number, deadLettered: number, batch?: BatchTiming): void => {
    if (p.released !== true) options.report({ partition: p.key, checkpoint: p.checkpoint, state: p.state, applied, deadLettered, error: p.lastError, ...(batch === undefined ? {} : { batch }) });
  };

  const makeReady = (p: Partition<E, C>): void => {
    if (p.queue.length === 0 || p.released === true) {
      p.state = 'idle';
      return;
    }
    p.state = 'ready';
    p.start = Math.max(virtualTime, p.finish);
    ready.push(p);
  };

  options.slots?.onFree(() => dispatch());

  const groupPartitions = options.applyGroup === undefined ? 1 : (options.groupPartitions ?? 1);
  const batchOf = (p: Partition<E, C>): number => Math.min(p.queue.length, p.probe > 0 ? p.probe : options.batchSize);
  const groupable = (p: Partition<E, C>): boolean => p.probe === 0 && p.failures === 0 && p.alone !== true;

  /** Takes a ready partition off the heap and accounts its next batch as dispatched. */
  const take = (p: Partition<E, C>): void => {
    p.state = 'running';
    const cost = batchOf(p);
    // The floor of minShare needs the active total; recounted every so often, not per batch.
    if (dispatches++ % 128 === 0) {
      activeWeight = 0;
      for (const q of partitions.values()) if (q.queue.length > 0) activeWeight += weightOf(q.key);
    }
    virtualTime = p.start;
    p.finishBefore = p.finish;
    p.finish = p.start + cost / effectiveWeight(p);
    p.dispatched++;
    p.dispatchedEvents += cost;
  };

  /** The next ready partition; released or stopped ones left in the heap are dropped on the way. */
  const nextReady = (): Partition<E, C> | undefined => {
    for (let p = ready.peek(); p !== undefined; p = ready.peek()) {
      if (p.state === 'ready' && p.released !== true) return p;
      ready.pop();
    }
    return undefined;
  };

  const dispatch = (): void => {
    dispatchQueued = false;
    while (!draining && running < options.concurrency) {
      const first = nextReady();
      if (first === undefined || options.slots?.tryTake() === false) return;
      ready.pop();
      take(first);
      const group = [first];
      let events = batchOf(first);
      while (group.length < groupPartitions && groupable(first)) {
        const next = nextReady();
        if (next === undefined || !groupable(next) || events + batchOf(next) > options.batchSize) break;
        ready.pop();
        events += batchOf(next);
        take(next);
        group.push(next);
      }
      running++;
      void (group.length === 1 ? run(first) : runGroup(group)).finally(() => {
        running--;
        if (draining && running === 0) drained?.();
        if (options.slots === undefined) dispatch();
        else options.slots.give();
      });
    }
  };

  // Events of one delivery are all queued before anything is dispatched, so they can share a transaction.
  let dispatchQueued = false;
  const dispatchSoon = (): void => {
    if (dispatchQueued) return;
    dispatchQueued = true;
    queueMicrotask(dispatch);
  };

  const stop = (p: Partition<E, C>, state: 'halted' | 'fenced', error: ErrorInfo, deadLettered: number): void => {
    p.state = state;
    p.queue = [];
    p.lastError = error;
    report(p, 0, deadLettered);
  };

  const retryLater = (p: Partition<E, C>, error: unknown, attempt: number): void => {
    p.lastError = toErrorInfo(error);
    p.state = 'retrying';
    report(p, 0, 0);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (p.state === 'retrying') makeReady(p);
      dispatch();
    }, backoffDelay(options.backoff, attempt));
    timers.add(timer);
  };

  const settle = (p: Partition<E, C>, outcome: CommitOutcome<C>, taken: number, deadLettered: number, batch?: BatchTiming): void => {
    if (!outcome.ok) {
      const reason =
        outcome.reason === 'LEASE_LOST'
          ? 'the partition lease expired or passed to another host before the commit'
          : `checkpoint compare-and-set returned ${outcome.reason}: another owner committed for this partition`;
      return stop(p, 'fenced', toErrorInfo(new OwnershipLostError(reason)), 0);
    }
    p.checkpoint = outcome.checkpoint;
    p.queue = p.queue.slice(taken);
    if (p.probe > 0) {
      p.suspects -= taken;
      p.probe = p.suspects > 0 ? Math.ceil(p.suspects / 2) : 0;
    }
    if (p.probe === 0) {
      p.failures = 0;
      p.lastError = undefined;
    }
    makeReady(p);
    report(p, outcome.applied, deadLettered, batch);
  };

  const deadLetter = async (p: Partition<E, C>, event: E, error: ErrorInfo): Promise<void> => {
    const attempts = p.failures;
    p.probe = 0;
    p.suspects = 0;
    p.failures = 0;
    if (options.then === 'halt') {
      await options.halt(p.key, event, error, attempts);
      return stop(p, 'halted', error, 1);
    }
    const outcome = await options.skip(p.key, p.checkpoint, event, error, attempts);
    p.lastError = error;
    settle(p, outcome.ok ? { ...outcome, applied: 0 } : outcome, 1, outcome.ok ? 1 : 0);
  };

  let groupFailures = 0;
  let lastWarning = Number.NEGATIVE_INFINITY;
  const groupFailed = (group: Partition<E, C>[], error: unknown): void => {
    groupFailures++;
    if (options.warn === undefined || Date.now() - lastWarning < 60_000) return;
    lastWarning = Date.now();
    const reason = error === undefined ? 'a checkpoint was not where this thread expected it' : toErrorInfo(error).message;
    options.warn(
      `${groupFailures} group(s) of partitions did not commit together since the last warning; their partitions run alone. Last: ${group.map((p) => p.key).join(', ')}: ${reason}`,
    );
    groupFailures = 0;
  };

  const runGroup = async (group: Partition<E, C>[]): Promise<void> => {
    const batches = group.map((p) => p.queue.slice(0, options.batchSize));
    const started = Date.now();
    let failure: unknown;
    const outcomes = await options.applyGroup!(group.map((p, i) => ({ partition: p.key, checkpoint: p.checkpoint, events: batches[i]! }))).catch((error: unknown) => {
      failure = error;
      return undefined;
    });
    if (outcomes !== undefined) {
      const timing = { startedAt: started, durationMs: Date.now() - started, groupSize: group.length };
      const slow = timing.durationMs > SlowTransactionMs;
      return group.forEach((p, i) => {
        p.alone = slow;
        settle(p, outcomes[i]!, batches[i]!.length, 0, timing);
      });
    }
    groupFailed(group, failure);
    // Nothing committed: back to the ready queue as if not dispatched, each to run alone.
    group.forEach((p, i) => {
      if (p.released === true) return;
      p.alone = true;
      p.finish = p.finishBefore ?? p.finish;
      p.dispatched--;
      p.dispatchedEvents -= batches[i]!.length;
      makeReady(p);
    });
    const first = group[0]!;
    if (first.released !== true) options.report({ partition: first.key, checkpoint: first.checkpoint, state: first.state, applied: 0, deadLettered: 0, groupFailed: true });
  };

  const run = async (p: Partition<E, C>): Promise<void> => {
    const batch = p.queue.slice(0, p.probe > 0 ? p.probe : options.batchSize);
    try {
      const started = Date.now();
      const outcome = await options.apply(p.key, p.checkpoint, batch);
      const timing = { startedAt: started, durationMs: Date.now() - started, groupSize: 1 };
      p.alone = timing.durationMs > SlowTransactionMs;
      settle(p, outcome, batch.length, 0, timing);
    } catch (error) {
      if (options.isTransient(error)) return retryLater(p, error, Math.min(p.failures + 1, 10));
      p.failures++;
      if (p.probe === 0 && p.failures <= options.retries) return retryLater(p, error, p.failures);
      if (p.probe === 0) p.suspects = batch.length;
      if (batch.length > 1) {
        p.probe = Math.ceil(batch.length / 2);
        p.lastError = toErrorInfo(error);
        return makeReady(p);
      }
      try {
        await deadLetter(p, batch[0] as E, toErrorInfo(error));
      } catch (recordError) {
        p.probe = 1;
        retryLater(p, recordError, p.failures);
      }
    }
  };

  return {
    enqueue(key, events, checkpoint) {
      let p = partitions.get(key);
      if (p === undefined) {
        p = { key, queue: [], checkpoint: checkpoint ?? null, state: 'idle', failures: 0, probe: 0, suspects: 0, start: 0, finish: 0, dispatched: 0, dispatchedEvents: 0 };
        partitions.set(key, p);
      }
      if (p.state === 'fenced' || p.state === 'halted') return;
      for (const event of events) p.queue.push(event);
      if (p.state === 'idle') makeReady(p);
      dispatchSoon();
    },
    release(key) {
      const p = partitions.get(key);
      if (p === undefined) return;
      partitions.delete(key);
      p.released = true;
      p.queue = [];
      if (p.state !== 'running') p.state = 'idle';
    },
    setWeight(key, weight) {
      if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`a partition weight must be a positive number, got ${weight}`);
      if (weight === 1) weights.delete(key);
      else weights.set(key, weight);
    },
    snapshot: (options) =>
      [...partitions.values()].filter((p) => options?.notable !== true || p.queue.length > 0 || p.state === 'running' || p.state === 'halted' || p.state === 'retrying' || weights.has(p.key)).map((p) => ({
        partition: p.key,
        state: p.state,
        queued: p.queue.length,
        inFlight: p.state === 'running' ? 1 : 0,
        weight: weightOf(p.key),
        dispatched: p.dispatched,
        dispatchedEvents: p.dispatchedEvents,
      })),
    async drain() {
      draining = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      if (running === 0) return;
      await new Promise<void>((resolve) => (drained = resolve));
    },
    inFlight: () => running,
  };
};
