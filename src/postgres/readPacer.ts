import type { Wakeable } from '../core/wakeable.ts';
import type { EventBatch } from './readEventBatch.ts';
import type { WakeUps } from './wakeUps.ts';

/**
 * How soon to look again when committed events wait behind an older open transaction, unless an append
 * commits first (the blocking transaction is usually an append); doubles while they wait.
 */
const HeldBackPollMs = 10;
/** How many times in a row held-back events are looked for again when one of the reader's own transactions ends. */
const OwnCommitLooks = 3;

/**
 * What a store reader does after each read: read again at once after a full batch, look again at the
 * next append notification or soon (backing off) while committed events wait behind an open
 * transaction, otherwise sleep until the next append notification or `idlePollMs`. Shared by the
 * engine's reader and the relay. `transactionsEnded` is woken when transactions the reader knows of
 * end (the engine's own commits, which often are what keeps events back): held-back events are looked
 * for again then too, the first few times in a row.
 */
export const readPacer = (wakeUps: WakeUps, idlePollMs: number, transactionsEnded?: Wakeable) => {
  let heldBack = 0;
  const waitHeldBack = async (generation: number, ms: number, signal: AbortSignal): Promise<void> => {
    // Still held after a few commits of its own: what keeps the events back is someone else's.
    if (transactionsEnded === undefined || heldBack > OwnCommitLooks || signal.aborted) return wakeUps.wait(generation, ms, signal);
    // Whichever comes first; the other wait is ended with it, leaving no timer behind.
    const first = new AbortController();
    const end = (): void => first.abort();
    signal.addEventListener('abort', end, { once: true });
    try {
      await Promise.race([wakeUps.wait(generation, ms, first.signal), transactionsEnded.wait(ms, first.signal)]);
    } finally {
      first.abort();
      signal.removeEventListener('abort', end);
    }
  };
  return async (batch: EventBatch, generation: number, signal: AbortSignal): Promise<void> => {
    heldBack = batch.heldBack ? heldBack + 1 : 0;
    if (heldBack > 0) await waitHeldBack(generation, Math.min(idlePollMs, HeldBackPollMs * 2 ** (heldBack - 1)), signal);
    else if (!batch.more) await wakeUps.wait(generation, idlePollMs, signal);
  };
};
