import { abortableSleep } from './abortableSleep.ts';
import { backoffDelay, DefaultBackoff, type ResolvedBackoffOptions } from './backoff.ts';

/**
 * Runs `attempt` until it resolves or `signal` aborts, waiting with exponential backoff and jitter
 * after each failure (which `onError` hears of, unless aborted). Undefined when aborted first.
 */
export const retryUntilAborted = async <T>(
  attempt: (count: number) => Promise<T>,
  options: { signal: AbortSignal; onError: (error: unknown, count: number) => void; backoff?: ResolvedBackoffOptions },
): Promise<T | undefined> => {
  for (let count = 1; !options.signal.aborted; count++) {
    try {
      return await attempt(count);
    } catch (error) {
      if (options.signal.aborted) return undefined;
      options.onError(error, count);
    }
    await abortableSleep(backoffDelay(options.backoff ?? DefaultBackoff, count), options.signal);
  }
  return undefined;
};
