import { describe, expect, it } from 'vitest';
import { consumerBudget } from '../../src/jetstream/consumerBudget.ts';

const never = new AbortController().signal;
const settledNow = async <T>(promise: Promise<T>): Promise<T | 'pending'> => Promise.race([promise, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);

describe('consumerBudget', () => {
  it('admits up to maxOpen partitions, then the others in the order they came as slots are left', async () => {
    const budget = consumerBudget({ maxOpen: 2, maxMessages: 100 });
    const a = await budget.enter(never, () => undefined);
    const b = await budget.enter(never, () => undefined);
    const c = budget.enter(never, () => undefined);
    const d = budget.enter(never, () => undefined);
    expect(await settledNow(c)).toBe('pending');
    expect(budget.usage()).toEqual({ open: 2, messages: 0, waiting: 2 });
    b!.leave();
    b!.leave();
    expect(await settledNow(c)).not.toBe('pending');
    expect(await settledNow(d)).toBe('pending');
    a!.leave();
    expect(await settledNow(d)).not.toBe('pending');
    expect(budget.usage()).toEqual({ open: 2, messages: 0, waiting: 0 });
  });

  it('admits no one while the open partitions hold maxMessages, and again once they hold less', async () => {
    const budget = consumerBudget({ maxOpen: 10, maxMessages: 100 });
    const a = await budget.enter(never, () => undefined);
    a!.holding(60);
    const b = await budget.enter(never, () => undefined);
    b!.holding(40);
    const c = budget.enter(never, () => undefined);
    expect(await settledNow(c)).toBe('pending');
    b!.holding(39);
    expect(await settledNow(c)).not.toBe('pending');
    expect(budget.usage()).toEqual({ open: 3, messages: 99, waiting: 0 });
    a!.leave();
    expect(budget.usage().messages).toBe(39);
  });

  it('always admits one partition, whatever the bounds', async () => {
    const budget = consumerBudget({ maxOpen: 1, maxMessages: 1 });
    const a = await budget.enter(never, () => undefined);
    a!.holding(500);
    a!.leave();
    expect(await settledNow(budget.enter(never, () => undefined))).not.toBe('pending');
  });

  it('tells the open partitions once when partitions start waiting', async () => {
    const budget = consumerBudget({ maxOpen: 1, maxMessages: 100 });
    let told = 0;
    const a = await budget.enter(never, () => told++);
    expect(budget.contended()).toBe(false);
    void budget.enter(never, () => undefined);
    void budget.enter(never, () => undefined);
    expect(budget.contended()).toBe(true);
    expect(told).toBe(1);
    a!.leave();
    expect(budget.usage()).toEqual({ open: 1, messages: 0, waiting: 1 });
  });

  it('resolves undefined for a partition handed over while it waited, and forgets it', async () => {
    const budget = consumerBudget({ maxOpen: 1, maxMessages: 100 });
    const a = await budget.enter(never, () => undefined);
    const controller = new AbortController();
    const waiting = budget.enter(controller.signal, () => undefined);
    controller.abort();
    expect(await waiting).toBeUndefined();
    expect(budget.usage().waiting).toBe(0);
    a!.leave();
    expect(budget.usage()).toEqual({ open: 0, messages: 0, waiting: 0 });
    const aborted = new AbortController();
    aborted.abort();
    expect(await budget.enter(aborted.signal, () => undefined)).toBeUndefined();
  });
});
