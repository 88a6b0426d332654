import { describe, expect, it } from 'vitest';
import { progressTracker } from '../../src/core/progressTracker.js';

describe('progressTracker', () => {
  it('holds the low-water mark below the oldest uncommitted event of any partition', () => {
    const tracker = progressTracker(10n);
    tracker.routed('a', 11n);
    tracker.routed('b', 12n);
    tracker.routed('a', 13n);
    tracker.routed('b', 14n);
    tracker.readThrough(15n);
    expect(tracker.lowWaterMark()).toBe(10n);
    tracker.committed('a', 13n);
    expect(tracker.lowWaterMark()).toBe(11n);
    expect(tracker.pending('b')).toBe(2);
    tracker.committed('b', 12n);
    expect(tracker.lowWaterMark()).toBe(13n);
    tracker.committed('b', 14n);
    expect(tracker.lowWaterMark()).toBe(15n);
    expect(tracker.totalPending()).toBe(0);
  });

  it('never moves the mark back and ignores commits of unknown partitions', () => {
    const tracker = progressTracker(100n);
    tracker.committed('ghost', 500n);
    tracker.readThrough(90n);
    expect(tracker.lowWaterMark()).toBe(100n);
  });
});
