/**
 * Asks `check` every `everyMs` until it returns something other than undefined, and returns that; at
 * `timeoutMs`, undefined. For what another process changes in the database (a rebuild ending, a
 * tenant cleaned up), which nothing here is woken by.
 */
export const pollUntil = async <T>(check: () => Promise<T | undefined>, options: { timeoutMs: number; everyMs: number }): Promise<T | undefined> => {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined || Date.now() >= deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.everyMs, Math.max(0, deadline - Date.now()))));
  }
};
