import { comparePositions, type Position } from './position.js';

/*
 * Tracks, for one projector, the events routed to partitions and not yet committed, to give the
 * low-water mark: the position up to which every routed event is committed (or dead-lettered).
 * A restart reads after the mark; partitions skip what their checkpoints already cover.
 * Each pending event remembers the position delivered just before it, which is the mark while it
 * is the oldest pending event.
 */

type Pending = { seq: number; position: Position; previous: Position };
type PendingQueue = { entries: Pending[]; head: number };

export type ProgressTracker = {
  /** An event was sent to `partition`; `previous` is the position the reader delivered before it. */
  routed(partition: string, position: Position, previous: Position): void;
  /** The reader has looked at every event up to `position`, routed or not. */
  readThrough(position: Position): void;
  /** `partition` committed everything up to `checkpoint`. */
  committed(partition: string, checkpoint: Position): void;
  /** Events routed to `partition` and not committed. */
  pending(partition: string): number;
  totalPending(): number;
  /** The mark; with `ignoring`, as if those partitions had nothing pending (halted or fenced ones). */
  lowWaterMark(ignoring?: ReadonlySet<string>): Position;
};

export const progressTracker = (start: Position): ProgressTracker => {
  const queues = new Map<string, PendingQueue>();
  let read = start;
  let total = 0;
  let seq = 0;

  return {
    routed(partition, position, previous) {
      let queue = queues.get(partition);
      if (queue === undefined) {
        queue = { entries: [], head: 0 };
        queues.set(partition, queue);
      }
      queue.entries.push({ seq: seq++, position, previous });
      total++;
    },
    readThrough(position) {
      if (comparePositions(position, read) > 0) read = position;
    },
    committed(partition, checkpoint) {
      const queue = queues.get(partition);
      if (queue === undefined) return;
      while (queue.head < queue.entries.length && comparePositions((queue.entries[queue.head] as Pending).position, checkpoint) <= 0) {
        queue.head++;
        total--;
      }
      if (queue.head === queue.entries.length) queues.delete(partition);
      else if (queue.head > 1024 && queue.head * 2 > queue.entries.length) {
        queue.entries = queue.entries.slice(queue.head);
        queue.head = 0;
      }
    },
    pending: (partition) => {
      const queue = queues.get(partition);
      return queue === undefined ? 0 : queue.entries.length - queue.head;
    },
    totalPending: () => total,
    lowWaterMark(ignoring) {
      let oldest: Pending | undefined;
      for (const [partition, queue] of queues) {
        if (ignoring?.has(partition) === true) continue;
        const first = queue.entries[queue.head];
        if (first !== undefined && (oldest === undefined || first.seq < oldest.seq)) oldest = first;
      }
      return oldest === undefined ? read : oldest.previous;
    },
  };
};
