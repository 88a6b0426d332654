export type BackoffOptions = {
  /** @default 100 */
  initialMs?: number;
  /** @default 5000 */
  maxMs?: number;
  /** Fraction of the delay drawn at random, 0..1. @default 0.2 */
  jitter?: number;
};

export type ResolvedBackoffOptions = Required<BackoffOptions>;

export const DefaultBackoff: ResolvedBackoffOptions = { initialMs: 100, maxMs: 5_000, jitter: 0.2 };

/** Delay before attempt `attempt` (1-based) under exponential backoff with jitter. */
export const backoffDelay = (options: ResolvedBackoffOptions, attempt: number, random: () => number = Math.random): number => {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, attempt - 1));
  const spread = base * options.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
};
