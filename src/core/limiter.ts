/** Runs at most `max` tasks at once; the others wait their turn in order. */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export const limiter = (max: number): Limiter => {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    // A finishing task hands its slot straight to the next waiter, so `running` never passes `max`.
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next === undefined) running--;
      else next();
    }
  };
};
