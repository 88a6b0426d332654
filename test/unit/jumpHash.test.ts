import { describe, expect, it } from 'vitest';
import { bucketFor, hash64, jumpHash } from '../../src/core/jumpHash.ts';

const keys = Array.from({ length: 20_000 }, (_, i) => `tenant-${i}`);

describe('jump consistent hash', () => {
  it('is stable for a key and spreads keys evenly over buckets', () => {
    expect(bucketFor('tenant-42', 8)).toBe(bucketFor('tenant-42', 8));
    const counts = new Array<number>(8).fill(0);
    for (const key of keys) counts[bucketFor(key, 8)]!++;
    for (const count of counts) expect(Math.abs(count - keys.length / 8)).toBeLessThan(keys.length / 8 * 0.1);
  });

  it.each([
    [4, 5],
    [8, 9],
    [16, 17],
    [8, 7],
  ])('moves about 1/N of the partitions when going from %i to %i workers', (from, to) => {
    const moved = keys.filter((key) => bucketFor(key, from) !== bucketFor(key, to)).length / keys.length;
    const ideal = Math.abs(to - from) / Math.max(from, to);
    expect(moved).toBeGreaterThan(ideal * 0.85);
    expect(moved).toBeLessThan(ideal * 1.15);
  });

  it('only moves keys into the new bucket when a bucket is added', () => {
    for (const key of keys.slice(0, 2000)) {
      const before = jumpHash(hash64(key), 6);
      const after = jumpHash(hash64(key), 7);
      expect(after === before || after === 6).toBe(true);
    }
  });
});
