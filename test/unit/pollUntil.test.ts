import { describe, expect, it } from 'vitest';
import { pollUntil } from '../../src/core/pollUntil.ts';

describe('pollUntil', () => {
  it('returns what the check found once it finds something, after asking again in between', async () => {
    let asked = 0;
    const found = await pollUntil(() => Promise.resolve(++asked === 3 ? 'there' : undefined), { timeoutMs: 1000, everyMs: 5 });
    expect(found).toBe('there');
    expect(asked).toBe(3);
  });

  it('returns undefined at the deadline, having asked once more at it', async () => {
    const started = Date.now();
    let asked = 0;
    expect(await pollUntil(() => Promise.resolve(void asked++), { timeoutMs: 60, everyMs: 20 })).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(60);
    expect(asked).toBeGreaterThanOrEqual(3);
  });
});
