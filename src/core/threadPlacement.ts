import { bucketFor } from './jumpHash.ts';
import { partitionIdentity } from './partitionIdentity.ts';

/** How a projector's partitions map onto the engine's worker threads (its thread budget). */
export type Placement =
  /** Partitions spread over the engine's threads (at most `workers` of them) by jump consistent hashing. */
  | { type: 'hash'; workers?: number }
  /** Each new partition goes to the least loaded of at most `maxThreads` of the engine's threads. */
  | { type: 'per-partition'; maxThreads: number }
  /** The listed partitions each get a thread of their own out of the budget; the others are hashed over the rest. */
  | { type: 'dedicated'; partitions: readonly string[] };

export type ThreadPlacement = {
  /** The thread a partition of a processor runs on: stable for the life of the placement. */
  threadFor(processorId: string, partition: string): number;
  /** Threads of the budget a processor may use. */
  threadsOf(processorId: string): number;
};

export type PlacementResult = { ok: true; placement: ThreadPlacement } | { ok: false; error: string };

/**
 * Maps (processor, partition) pairs onto one budget of `threads` threads shared by every processor of
 * an engine. A key hashes to the same thread for every projector of the same width. Dedicated partitions take threads from the top of the budget, one per distinct key (two
 * projectors dedicating the same tenant share its thread); everything else shares the threads below.
 */
export const threadPlacement = (threads: number, processors: readonly { processorId: string; placement: Placement }[]): PlacementResult => {
  const dedicatedKeys = [...new Set(processors.flatMap((p) => (p.placement.type === 'dedicated' ? p.placement.partitions : [])))];
  const shared = threads - dedicatedKeys.length;
  if (shared < 1)
    return {
      ok: false,
      error: `${dedicatedKeys.length} dedicated partition(s) need ${dedicatedKeys.length + 1} threads (one left for the rest), but the engine's budget is ${threads}; raise options.threads or dedicate fewer`,
    };
  const dedicated = new Map(dedicatedKeys.map((key, i) => [key, threads - 1 - i]));
  const byProcessor = new Map(processors.map((p) => [p.processorId, p.placement]));
  const assigned = new Map<string, number>();
  const load = new Array<number>(threads).fill(0);

  const usable = (placement: Placement | undefined): number => {
    if (placement?.type === 'hash' && placement.workers !== undefined) return Math.min(placement.workers, shared);
    if (placement?.type === 'per-partition') return Math.min(placement.maxThreads, shared);
    return shared;
  };

  const choose = (processorId: string, partition: string): number => {
    const placement = byProcessor.get(processorId);
    if (placement?.type === 'dedicated') {
      const own = dedicated.get(partition);
      if (own !== undefined) return own;
    }
    const count = usable(placement);
    // By the key alone: one tenant's partitions of every projector share a thread, which then gets
    // each of the tenant's events once, whatever the number of projectors.
    if (placement?.type !== 'per-partition') return bucketFor(partition, count);
    let least = 0;
    for (let i = 1; i < count; i++) if (load[i]! < load[least]!) least = i;
    return least;
  };

  return {
    ok: true,
    placement: {
      threadFor(processorId, partition) {
        const identity = partitionIdentity(processorId, partition);
        let thread = assigned.get(identity);
        if (thread === undefined) {
          thread = choose(processorId, partition);
          assigned.set(identity, thread);
          load[thread] = load[thread]! + 1;
        }
        return thread;
      },
      threadsOf: (processorId) => {
        const placement = byProcessor.get(processorId);
        return placement?.type === 'dedicated' ? shared + placement.partitions.length : usable(placement);
      },
    },
  };
};
