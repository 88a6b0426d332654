/*
 * Tracks, for one projector, the events routed to partitions and not yet committed, to give the
 * low-water mark: the highest position at or below which every routed event is committed (or
 * dead-lettered). A restart reads from the mark; partitions skip what their checkpoints already hold.
 */

type PendingQueue = { positions: bigint[]; head: number };

export type ProgressTracker = {
  /** An event at `position` was sent to `partition`. Positions must be routed in ascending order. */
  routed(partition: string, position: bigint): void;
  /** The reader has looked at every event up to `position`, routed or not. */
  readThrough(position: bigint): void;
  /** `partition` committed everything up to `checkpoint`. */
  committed(partition: string, checkpoint: bigint): void;
  /** Events routed to `partition` and not committed. */
  pending(partition: string): number;
  totalPending(): number;
  lowWaterMark(): bigint;
};

export const progressTracker = (start: bigint): ProgressTracker => {
  const queues = new Map<string, PendingQueue>();
  let read = start;
  let total = 0;

  const size = (queue: PendingQueue): number => queue.positions.length - queue.head;

  return {
    routed(partition, position) {
      let queue = queues.get(partition);
      if (queue === undefined) {
        queue = { positions: [], head: 0 };
        queues.set(partition, queue);
      }
      queue.positions.push(position);
      total++;
    },
    readThrough(position) {
      if (position > read) read = position;
    },
    committed(partition, checkpoint) {
      const queue = queues.get(partition);
      if (queue === undefined) return;
      while (queue.head < queue.positions.length && (queue.positions[queue.head] as bigint) <= checkpoint) {
        queue.head++;
        total--;
      }
      if (queue.head === queue.positions.length) queues.delete(partition);
      else if (queue.head > 1024 && queue.head * 2 > queue.positions.length) {
        queue.positions = queue.positions.slice(queue.head);
        queue.head = 0;
      }
    },
    pending: (partition) => {
      const queue = queues.get(partition);
      return queue === undefined ? 0 : size(queue);
    },
    totalPending: () => total,
    lowWaterMark() {
      let mark = read;
      for (const queue of queues.values()) {
        const first = queue.positions[queue.head];
        if (first !== undefined && first - 1n < mark) mark = first - 1n;
      }
      return mark;
    },
  };
};
