/*
 * How many partitions of a host consume at once, and how many messages they hold. Over JetStream a
 * partition's open consumer receives up to twice its batch size before anything is committed; with
 * thousands of tenant streams catching up at once, a host would hold every message of every stream
 * (its memory growing with the tenants, not with its threads). The budget bounds that the way the
 * store source's `maxPendingEvents` bounds its buffers: a partition opens its consumer only while
 * fewer than `maxOpen` are open and they hold fewer than `maxMessages` messages (one always may), and
 * while others wait for their turn, a partition that has committed everything it received and whose
 * stream holds nothing more for it sleeps at once instead of after its idle time.
 */

export type ConsumerSlot = {
  /** Messages this partition now holds (arrived and not acked or nakked yet): the budget's count follows. */
  holding(messages: number): void;
  /** The consumer closed: its turn goes to the next partition waiting. Idempotent. */
  leave(): void;
};

export type ConsumerBudget = {
  /** Resolves with a slot once this partition may open its consumer, or undefined when `signal` aborted first. */
  enter(signal: AbortSignal, onContended: () => void): Promise<ConsumerSlot | undefined>;
  /** Partitions are waiting for a slot. */
  contended(): boolean;
  /** For status and tests: open consumers, the messages they hold, partitions waiting. */
  usage(): { open: number; messages: number; waiting: number };
};

type Waiter = { admit: () => void };

export const consumerBudget = (limits: { maxOpen: number; maxMessages: number }): ConsumerBudget => {
  const waiting: Waiter[] = [];
  /** The open partitions, each told when partitions start waiting. */
  const open = new Set<() => void>();
  let messages = 0;

  const hasRoom = (): boolean => open.size === 0 || (open.size < limits.maxOpen && messages < limits.maxMessages);

  const admitWaiting = (): void => {
    while (waiting.length > 0 && hasRoom()) waiting.shift()!.admit();
  };

  const slotFor = (onContended: () => void): ConsumerSlot => {
    open.add(onContended);
    let held = 0;
    let left = false;
    return {
      holding(now) {
        if (left) return;
        const freed = now < held;
        messages += now - held;
        held = now;
        if (freed) admitWaiting();
      },
      leave() {
        if (left) return;
        left = true;
        messages -= held;
        held = 0;
        open.delete(onContended);
        admitWaiting();
      },
    };
  };

  return {
    enter(signal, onContended) {
      if (signal.aborted) return Promise.resolve(undefined);
      if (waiting.length === 0 && hasRoom()) return Promise.resolve(slotFor(onContended));
      return new Promise((resolve) => {
        const waiter: Waiter = {
          admit: () => {
            signal.removeEventListener('abort', abort);
            resolve(slotFor(onContended));
          },
        };
        const abort = (): void => {
          const index = waiting.indexOf(waiter);
          if (index >= 0) waiting.splice(index, 1);
          resolve(undefined);
        };
        signal.addEventListener('abort', abort, { once: true });
        waiting.push(waiter);
        // The first to wait tells the open partitions, so those with nothing left to do make room.
        if (waiting.length === 1) for (const tell of [...open]) tell();
      });
    },
    contended: () => waiting.length > 0,
    usage: () => ({ open: open.size, messages, waiting: waiting.length }),
  };
};

/** No bound: every partition opens at once (tests of one partition's consumption). */
export const unboundedConsumerBudget = (): ConsumerBudget => consumerBudget({ maxOpen: Number.POSITIVE_INFINITY, maxMessages: Number.POSITIVE_INFINITY });
