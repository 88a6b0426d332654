import { WaitTimeoutError } from './errors.ts';
import type { Wakeable } from './wakeable.ts';

/** Checks at most this often: `done` may look at every partition, and commits wake it thousands of times a second. */
const MinCheckGapMs = 20;

/** Re-checks `done` whenever `changes` wakes (and every 250 ms); throws a WaitTimeoutError with `describe()` after `timeoutMs`. */
export const waitFor = async (changes: Wakeable, done: () => boolean, timeoutMs: number, describe: () => string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const checked = Date.now();
    if (done()) return;
    const left = deadline - checked;
    if (left <= 0) throw new WaitTimeoutError(describe());
    await changes.wait(Math.min(left, 250));
    const gap = Date.now() - checked;
    if (gap < MinCheckGapMs) await new Promise((resolve) => setTimeout(resolve, MinCheckGapMs - gap));
  }
};
