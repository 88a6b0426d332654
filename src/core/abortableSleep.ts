import { wakeable } from './wakeable.ts';

/** Resolves after `ms`, or at once when `signal` aborts. Never rejects. */
export const abortableSleep = (ms: number, signal?: AbortSignal): Promise<void> => wakeable().wait(ms, signal);
