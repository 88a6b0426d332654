import { describe, expect, it } from 'vitest';
import { threadPlacement, type Placement } from '../../src/core/threadPlacement.ts';
import { transactionSlots } from '../../src/core/transactionSlots.ts';

const place = (threads: number, processors: { processorId: string; placement: Placement }[]) => {
  const result = threadPlacement(threads, processors);
  if (!result.ok) throw new Error(result.error);
  return result.placement;
};
const tenants = Array.from({ length: 400 }, (_, i) => `tenant-${i}`);

describe('thread placement', () => {
  it('spreads the partitions of every projector over one budget of threads, the same way each time', () => {
    const placement = place(2, ['a', 'b', 'c', 'd', 'e'].map((processorId) => ({ processorId, placement: { type: 'hash' } })));
    const used = new Set<number>();
    for (const processorId of ['a', 'b', 'c', 'd', 'e'])
      for (const tenant of tenants) {
        const thread = placement.threadFor(processorId, tenant);
        expect(thread).toBeGreaterThanOrEqual(0);
        expect(thread).toBeLessThan(2);
        used.add(thread);
        expect(place(2, [{ processorId, placement: { type: 'hash' } }]).threadFor(processorId, tenant)).toBe(thread);
      }
    expect([...used].sort()).toEqual([0, 1]);
    expect(placement.threadsOf('a')).toBe(2);
  });

  it('keeps a projector with fewer workers than the budget on that many threads', () => {
    const placement = place(4, [{ processorId: 'a', placement: { type: 'hash', workers: 2 } }]);
    expect(new Set(tenants.map((tenant) => placement.threadFor('a', tenant)))).toEqual(new Set([0, 1]));
    expect(place(2, [{ processorId: 'a', placement: { type: 'hash', workers: 8 } }]).threadsOf('a')).toBe(2);
  });

  it('gives a dedicated partition a thread nobody else uses, and hashes the rest over the others', () => {
    const placement = place(3, [
      { processorId: 'a', placement: { type: 'dedicated', partitions: ['big-co'] } },
      { processorId: 'b', placement: { type: 'hash' } },
    ]);
    const own = placement.threadFor('a', 'big-co');
    expect(own).toBe(2);
    for (const tenant of tenants) {
      expect(placement.threadFor('a', tenant)).not.toBe(own);
      expect(placement.threadFor('b', tenant)).not.toBe(own);
    }
    // Another projector's partition of the same key is not dedicated unless that projector says so.
    expect(placement.threadFor('b', 'big-co')).not.toBe(own);
  });

  it('puts each new partition of a per-partition projector on the least loaded thread it may use', () => {
    const placement = place(3, [{ processorId: 'a', placement: { type: 'per-partition', maxThreads: 3 } }]);
    expect(['t1', 't2', 't3', 't4', 't5', 't6'].map((tenant) => placement.threadFor('a', tenant))).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('refuses more dedicated partitions than leave a thread for the rest', () => {
    expect(threadPlacement(2, [{ processorId: 'a', placement: { type: 'dedicated', partitions: ['x', 'y'] } }])).toEqual({
      ok: false,
      error: "2 dedicated partition(s) need 3 threads (one left for the rest), but the engine's budget is 2; raise options.threads or dedicate fewer",
    });
  });
});

describe('transaction slots', () => {
  it('offer a freed slot to the schedulers in turn, so one projector’s backlog does not keep another’s waiting', () => {
    const slots = transactionSlots(1);
    const taken: string[] = [];
    const wants = new Map([
      ['a', 3],
      ['b', 3],
    ]);
    for (const name of ['a', 'b'])
      slots.onFree(() => {
        if ((wants.get(name) ?? 0) > 0 && slots.tryTake()) {
          wants.set(name, wants.get(name)! - 1);
          taken.push(name);
        }
      });
    expect(slots.tryTake()).toBe(true);
    expect(slots.tryTake()).toBe(false);
    for (let i = 0; i < 6; i++) slots.give();
    expect(taken).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });
});
