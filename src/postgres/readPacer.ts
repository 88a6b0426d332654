import type { EventBatch } from './readEventBatch.js';
import type { WakeUps } from './wakeUps.js';

/**
 * How soon to look again when committed events wait behind an older open transaction, unless an append
 * commits first (the blocking transaction is usually an append); doubles while they wait.
 */
const HeldBackPollMs = 10;

/**
 * What a store reader does after each read: read again at once after a full batch, look again at the
 * next append notification or soon (backing off) while committed events wait behind an open
 * transaction, otherwise sleep until the next append notification or `idlePollMs`. Shared by the engine's reader and the relay.
 */
export const readPacer = (wakeUps: WakeUps, idlePollMs: number) => {
  let heldBack = 0;
  return async (batch: EventBatch, generation: number, signal: AbortSignal): Promise<void> => {
    heldBack = batch.heldBack ? heldBack + 1 : 0;
    if (heldBack > 0) await wakeUps.wait(generation, Math.min(idlePollMs, HeldBackPollMs * 2 ** (heldBack - 1)), signal);
    else if (!batch.more) await wakeUps.wait(generation, idlePollMs, signal);
  };
};
