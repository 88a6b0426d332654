import { describe, expect, it } from 'vitest';
import { comparePositions, isCovered, type Position } from '../../src/core/position.ts';
import { progressTracker } from '../../src/core/progressTracker.ts';

const at = (tx: number, global: number): Position => ({ tx: BigInt(tx), global: BigInt(global) });

describe('delivery positions', () => {
  it('order by transaction first, so a late-committing lower global position comes after', () => {
    expect(comparePositions(at(10, 7), at(11, 5))).toBeLessThan(0);
    expect(comparePositions(at(10, 7), at(10, 8))).toBeLessThan(0);
    expect(isCovered(at(11, 5), at(10, 7))).toBe(false);
    expect(isCovered(at(10, 6), at(10, 7))).toBe(true);
    expect(isCovered(at(1, 1), null)).toBe(false);
  });
});

describe('progressTracker', () => {
  it('holds the low-water mark just before the oldest uncommitted event of any partition', () => {
    const start = at(1, 10);
    const tracker = progressTracker(start);
    const e1 = at(2, 12);
    const e2 = at(2, 13);
    const e3 = at(3, 11);
    const e4 = at(4, 14);
    tracker.routed('a', e1, start);
    tracker.routed('b', e2, e1);
    tracker.routed('a', e3, e2);
    tracker.routed('b', e4, e3);
    tracker.readThrough(at(5, 15));
    expect(tracker.lowWaterMark()).toEqual(start);
    tracker.committed('a', e3);
    expect(tracker.lowWaterMark()).toEqual(e1);
    expect(tracker.pending('b')).toBe(2);
    tracker.committed('b', e2);
    expect(tracker.lowWaterMark()).toEqual(e3);
    tracker.committed('b', e4);
    expect(tracker.lowWaterMark()).toEqual(at(5, 15));
    expect(tracker.totalPending()).toBe(0);
  });

  it('keeps the mark at or before where a skipped partition’s unrouted events begin, until it is resumed', () => {
    const start = at(1, 10);
    const tracker = progressTracker(start);
    tracker.routed('a', at(2, 11), start);
    tracker.skipping('a', at(2, 11));
    tracker.routed('b', at(3, 12), at(2, 11));
    tracker.readThrough(at(9, 40));
    tracker.committed('a', at(2, 11));
    tracker.committed('b', at(3, 12));
    expect(tracker.pending('a')).toBe(0);
    expect(tracker.lowWaterMark()).toEqual(at(2, 11));
    expect(tracker.lowWaterMark(new Set(['a']))).toEqual(at(9, 40));
    // Read again for it: its events sit in front of the skip point, which moves on.
    tracker.routed('a', at(4, 20), at(3, 19));
    tracker.skipping('a', at(5, 25));
    expect(tracker.lowWaterMark()).toEqual(at(3, 19));
    tracker.committed('a', at(4, 20));
    expect(tracker.lowWaterMark()).toEqual(at(5, 25));
    tracker.resumed('a');
    expect(tracker.lowWaterMark()).toEqual(at(9, 40));
    expect(tracker.skipped().size).toBe(0);
  });

  it('never moves the read position back and ignores commits of unknown partitions', () => {
    const tracker = progressTracker(at(9, 100));
    tracker.committed('ghost', at(20, 500));
    tracker.readThrough(at(8, 90));
    expect(tracker.lowWaterMark()).toEqual(at(9, 100));
  });
});
