import type { ErrorInfo } from './errors.ts';

/* What a thread's partition scheduler tells the outside: states, commit outcomes, reports and snapshots. */

export type CommitOutcome<C> =
  | { ok: true; checkpoint: C | null; applied: number }
  | { ok: false; reason: 'IGNORED' | 'MISMATCH' | 'CURRENT_AHEAD' | 'LEASE_LOST' };

export type PartitionState = 'idle' | 'ready' | 'running' | 'retrying' | 'halted' | 'fenced';

export type FailurePolicy = 'halt' | 'skip';

/** The transaction a commit report follows: when it started (ms since the epoch), how long it took, and how many partitions committed in it. */
export type BatchTiming = { startedAt: number; durationMs: number; groupSize: number };

export type PartitionReport<C> = {
  partition: string;
  checkpoint: C | null;
  state: PartitionState;
  applied: number;
  deadLettered: number;
  error?: ErrorInfo;
  /** Set on the report of a commit. */
  batch?: BatchTiming;
  /** Set on the report of the first partition of a group transaction that did not commit (each partition then runs alone). */
  groupFailed?: true;
};

export type PartitionSnapshot = { partition: string; state: PartitionState; queued: number; inFlight: number; weight: number; dispatched: number; dispatchedEvents: number };
