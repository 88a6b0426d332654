import { bucketFor } from './jumpHash.ts';

export type PlacementSpec = { type: 'hash'; workers: number } | { type: 'per-partition'; maxThreads: number };

export type PlacementRouter = {
  /** The thread index a partition runs on; stable for the life of the router. */
  threadFor(partition: string): number;
  /** Threads that exist or may be needed. */
  maxThreads(): number;
};

/** Maps partitions to thread indexes: jump hash for `hash`, a fresh thread per partition up to the cap for `per-partition`. */
export const placementRouter = (placement: PlacementSpec): PlacementRouter => {
  const assigned = new Map<string, number>();
  const load: number[] = [];
  const choose = (partition: string): number => {
    if (placement.type === 'hash') return bucketFor(partition, placement.workers);
    if (load.length < placement.maxThreads) {
      load.push(0);
      return load.length - 1;
    }
    let least = 0;
    for (let i = 1; i < load.length; i++) if ((load[i] as number) < (load[least] as number)) least = i;
    return least;
  };
  return {
    threadFor(partition) {
      let thread = assigned.get(partition);
      if (thread === undefined) {
        thread = choose(partition);
        assigned.set(partition, thread);
        load[thread] = (load[thread] ?? 0) + 1;
      }
      return thread;
    },
    maxThreads: () => (placement.type === 'hash' ? placement.workers : placement.maxThreads),
  };
};
