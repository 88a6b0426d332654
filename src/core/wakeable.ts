export type Wakeable = {
  /** Resolves every pending `wait`. */
  wake(): void;
  /** Resolves on the next `wake`, after `ms` (never, and without a timer, when Infinity), or when `signal` aborts, whichever comes first. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
};

/** A place to wait for "something changed", with a timeout and no listeners left behind. */
export const wakeable = (): Wakeable => {
  const waiters = new Set<() => void>();
  return {
    wake() {
      const current = [...waiters];
      waiters.clear();
      current.forEach((done) => done());
    },
    wait(ms, signal) {
      if (signal?.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          waiters.delete(done);
          resolve();
        };
        const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
        signal?.addEventListener('abort', done, { once: true });
        waiters.add(done);
      });
    },
  };
};
