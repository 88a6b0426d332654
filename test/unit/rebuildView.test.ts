import { describe, expect, it } from 'vitest';
import { rebuildProgress } from '../../src/status/rebuildView.ts';

describe('a rebuild view', () => {
  it('measures a running rebuild by global positions, from just before the store\'s first event to its head at the start', () => {
    expect(rebuildProgress('running', { first: 1n, position: 250n, through: 1000n })).toBe(0.25);
    expect(rebuildProgress('running', { first: 501n, position: 750n, through: 1000n })).toBe(0.5);
    // The first commit is not zero: its event was replayed.
    expect(rebuildProgress('running', { first: 1n, position: 1n, through: 1n })).toBe(1);
  });

  it('is 0 before the first commit, while requested, and for a store that was empty; never above 1 when live events pass the head', () => {
    expect(rebuildProgress('running', { first: 1n, position: null, through: 1000n })).toBe(0);
    expect(rebuildProgress('requested', { first: null, position: null, through: null })).toBe(0);
    expect(rebuildProgress('running', { first: null, position: null, through: null })).toBe(0);
    expect(rebuildProgress('running', { first: 1n, position: 1200n, through: 1000n })).toBe(1);
  });

  it('is floored to a thousandth while running, 1 once done and unknown once failed', () => {
    expect(rebuildProgress('running', { first: 1n, position: 999n, through: 1000n })).toBe(0.999);
    expect(rebuildProgress('running', { first: 1n, position: 99_999n, through: 100_000n })).toBe(0.999);
    expect(rebuildProgress('done', { first: null, position: null, through: 1000n })).toBe(1);
    expect(rebuildProgress('failed', { first: 1n, position: 500n, through: 1000n })).toBeNull();
  });
});
