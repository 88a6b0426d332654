import { backoffDelay, type ResolvedBackoffOptions } from './backoff.js';
import { toErrorInfo, type ErrorInfo } from './errors.js';

/*
 * The partition runner's scheduler inside one worker thread.
 *
 * Each partition has a queue. A partition is in exactly one of:
 *   idle      — nothing queued
 *   ready     — queued events, waiting in the round-robin ready list for a free transaction slot
 *   running   — one batch in flight (never more: FIFO per partition)
 *   retrying  — its last batch threw; a timer puts it back in ready after backoff
 *   fenced    — a commit found another owner's checkpoint; it takes no more events this session
 * After `retries` failed attempts the batch is applied one event at a time; the event that still
 * throws is dead-lettered (the checkpoint moves past it in the same transaction) and the rest go on.
 */

export type CommitOutcome<C> =
  | { ok: true; checkpoint: C | null; applied: number }
  | { ok: false; reason: 'IGNORED' | 'MISMATCH' | 'CURRENT_AHEAD' };

export type PartitionState = 'idle' | 'ready' | 'running' | 'retrying' | 'fenced';

export type PartitionReport<C> = {
  partition: string;
  checkpoint: C | null;
  state: PartitionState;
  applied: number;
  deadLettered: number;
  error?: ErrorInfo;
};

/** `E` is a queued event, `C` the checkpoint type the commits return. */
export type PartitionSchedulerOptions<E, C> = {
  concurrency: number;
  batchSize: number;
  retries: number;
  backoff: ResolvedBackoffOptions;
  apply: (partition: string, checkpoint: C | null, events: E[]) => Promise<CommitOutcome<C>>;
  skip: (partition: string, checkpoint: C | null, event: E, error: ErrorInfo, attempts: number) => Promise<CommitOutcome<C>>;
  report: (report: PartitionReport<C>) => void;
};

type Partition<E, C> = {
  key: string;
  queue: E[];
  checkpoint: C | null;
  state: PartitionState;
  failures: number;
  lastError?: ErrorInfo;
  /** Events of a failing batch still to be applied one at a time; 0 when not isolating. */
  isolating: number;
};

export type PartitionScheduler<E, C> = {
  /** Queues events for a partition; `checkpoint` is the stored one, given with a partition's first events. */
  enqueue(partition: string, events: E[], checkpoint?: C | null): void;
  /** Resolves when nothing is in flight; no new batch starts afterwards. */
  drain(): Promise<void>;
  inFlight(): number;
};

export const partitionScheduler = <E, C>(options: PartitionSchedulerOptions<E, C>): PartitionScheduler<E, C> => {
  const partitions = new Map<string, Partition<E, C>>();
  const ready: Partition<E, C>[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let running = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  const report = (p: Partition<E, C>, applied: number, deadLettered: number): void =>
    options.report({ partition: p.key, checkpoint: p.checkpoint, state: p.state, applied, deadLettered, error: p.lastError });

  const makeReady = (p: Partition<E, C>): void => {
    if (p.queue.length === 0) {
      p.state = 'idle';
      return;
    }
    p.state = 'ready';
    ready.push(p);
  };

  const dispatch = (): void => {
    while (!draining && running < options.concurrency) {
      const next = ready.shift();
      if (next === undefined) return;
      running++;
      next.state = 'running';
      void run(next).finally(() => {
        running--;
        if (draining && running === 0) drained?.();
        dispatch();
      });
    }
  };

  const fence = (p: Partition<E, C>, reason: string): void => {
    p.state = 'fenced';
    p.queue = [];
    p.lastError = { name: 'OwnershipLostError', message: `checkpoint compare-and-set returned ${reason}: another owner committed for this partition` };
    report(p, 0, 0);
  };

  const afterFailure = (p: Partition<E, C>, error: unknown, batchLength: number): void => {
    p.failures++;
    p.lastError = toErrorInfo(error);
    if (p.failures > options.retries && p.isolating === 0) p.isolating = batchLength;
    p.state = 'retrying';
    report(p, 0, 0);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (p.state === 'retrying') makeReady(p);
      dispatch();
    }, backoffDelay(options.backoff, p.failures));
    timers.add(timer);
  };

  const settle = (p: Partition<E, C>, outcome: CommitOutcome<C>, taken: number, deadLettered: number): void => {
    if (!outcome.ok) return fence(p, outcome.reason);
    p.checkpoint = outcome.checkpoint;
    p.queue = p.queue.slice(taken);
    makeReady(p);
    report(p, outcome.applied, deadLettered);
  };

  const isolate = async (p: Partition<E, C>): Promise<void> => {
    const event = p.queue[0] as E;
    try {
      const outcome = await options.apply(p.key, p.checkpoint, [event]);
      p.isolating--;
      if (outcome.ok && p.isolating === 0) {
        p.failures = 0;
        p.lastError = undefined;
      }
      return settle(p, outcome, 1, 0);
    } catch (error) {
      const info = toErrorInfo(error);
      try {
        const outcome = await options.skip(p.key, p.checkpoint, event, info, p.failures + 1);
        p.isolating = 0;
        p.failures = 0;
        p.lastError = info;
        return settle(p, outcome.ok ? { ...outcome, applied: 0 } : outcome, 1, outcome.ok ? 1 : 0);
      } catch (skipError) {
        return afterFailure(p, skipError, 1);
      }
    }
  };

  const run = async (p: Partition<E, C>): Promise<void> => {
    if (p.isolating > 0) return isolate(p);
    const batch = p.queue.slice(0, options.batchSize);
    try {
      const outcome = await options.apply(p.key, p.checkpoint, batch);
      p.failures = 0;
      p.lastError = undefined;
      settle(p, outcome, batch.length, 0);
    } catch (error) {
      afterFailure(p, error, batch.length);
    }
  };

  return {
    enqueue(key, events, checkpoint) {
      let p = partitions.get(key);
      if (p === undefined) {
        p = { key, queue: [], checkpoint: checkpoint ?? null, state: 'idle', failures: 0, isolating: 0 };
        partitions.set(key, p);
      }
      if (p.state === 'fenced') return;
      for (const event of events) p.queue.push(event);
      if (p.state === 'idle') makeReady(p);
      dispatch();
    },
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
