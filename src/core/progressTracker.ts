import { comparePositions, type Position } from './position.ts';

/*
 * Tracks, for one projector, the events routed to partitions and not yet committed, to give the
 * low-water mark: the position up to which every routed event is committed (or dead-lettered).
 * A restart reads after the mark; partitions skip what their checkpoints already cover.
 * Each pending event remembers the position read just before it, which is the mark while it is the
 * oldest pending event. A partition whose buffer was full is skipped by the reader from some
 * position on: until it is resumed, the mark stays at or before that position.
 */

type Pending = { position: Position; previous: Position };
type PendingQueue = { entries: Pending[]; head: number };

export type ProgressTracker = {
  /** An event was sent to `partition`; `previous` is the position read just before it. */
  routed(partition: string, position: Position, previous: Position): void;
  /** The reader has looked at every event up to `position`, routed or not. */
  readThrough(position: Position): void;
  /** `partition` committed everything up to `checkpoint`. */
  committed(partition: string, checkpoint: Position): void;
  /** The partition's events after `from` are not routed (yet); `from` moves as they are read for it. */
  skipping(partition: string, from: Position): void;
  /** Where the partition's unrouted events begin, undefined when none are. */
  skippedFrom(partition: string): Position | undefined;
  /** Every event of the partition up to the reader's position is routed again. */
  resumed(partition: string): void;
  /** Partitions with unrouted events. */
  skipped(): ReadonlyMap<string, Position>;
  /** Events routed to `partition` and not committed. */
  pending(partition: string): number;
  totalPending(): number;
  /** The mark; with `ignoring`, as if those partitions had nothing pending (halted or fenced ones). */
  lowWaterMark(ignoring?: ReadonlySet<string>): Position;
};

const earlier = (a: Position, b: Position | undefined): Position => (b === undefined || comparePositions(a, b) < 0 ? a : b);

export const progressTracker = (start: Position): ProgressTracker => {
  const queues = new Map<string, PendingQueue>();
  const skipped = new Map<string, Position>();
  let read = start;
  let total = 0;

  return {
    routed(partition, position, previous) {
      let queue = queues.get(partition);
      if (queue === undefined) {
        queue = { entries: [], head: 0 };
        queues.set(partition, queue);
      }
      queue.entries.push({ position, previous });
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
    skipping: (partition, from) => void skipped.set(partition, from),
    skippedFrom: (partition) => skipped.get(partition),
    resumed: (partition) => void skipped.delete(partition),
    skipped: () => skipped,
    pending: (partition) => {
      const queue = queues.get(partition);
      return queue === undefined ? 0 : queue.entries.length - queue.head;
    },
    totalPending: () => total,
    lowWaterMark(ignoring) {
      let mark: Position | undefined;
      for (const [partition, queue] of queues) {
        if (ignoring?.has(partition) === true) continue;
        const first = queue.entries[queue.head];
        if (first !== undefined) mark = earlier(first.previous, mark);
      }
      for (const [partition, from] of skipped) if (ignoring?.has(partition) !== true) mark = earlier(from, mark);
      return mark === undefined ? read : earlier(mark, read);
    },
  };
};
