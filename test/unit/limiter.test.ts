import { describe, expect, it } from 'vitest';
import { limiter } from '../../src/core/limiter.ts';

describe('limiter', () => {
  it('runs at most its limit at once, the rest in order, and frees a slot when a task fails', async () => {
    const limit = limiter(3);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const task = (i: number) => async (): Promise<number> => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5 + (i % 3)));
      running--;
      if (i === 4) throw new Error('task 4 failed');
      return i;
    };
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => limit(task(i))));
    expect(most).toBe(3);
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(19);
    expect(await limit(() => Promise.resolve('after'))).toBe('after');
  });
});
