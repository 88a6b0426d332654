import { WaitTimeoutError } from './errors.js';
import type { Wakeable } from './wakeable.js';

/** Re-checks `done` whenever `changes` wakes (and every 250 ms); throws a WaitTimeoutError with `describe()` after `timeoutMs`. */
export const waitFor = async (changes: Wakeable, done: () => boolean, timeoutMs: number, describe: () => string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    const left = deadline - Date.now();
    if (left <= 0) throw new WaitTimeoutError(describe());
    await changes.wait(Math.min(left, 250));
  }
};
