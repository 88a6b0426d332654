/**
 * The transactions one worker thread may have open at once, shared by the schedulers of every
 * projector on the thread. A slot that frees goes to the schedulers in turn (the one after the last
 * woken first), so one projector's backlog does not keep the others' partitions waiting.
 */
export type TransactionSlots = {
  /** Takes a slot when one is free. */
  tryTake(): boolean;
  /** Gives a slot back and offers it to the schedulers, in turn. */
  give(): void;
  /** Called (synchronously) when a slot frees, until one of them takes it. */
  onFree(listener: () => void): void;
};

export const transactionSlots = (size: number): TransactionSlots => {
  let free = size;
  const listeners: (() => void)[] = [];
  let turn = 0;
  return {
    tryTake() {
      if (free === 0) return false;
      free--;
      return true;
    },
    give() {
      free++;
      const count = listeners.length;
      const first = turn++ % Math.max(1, count);
      for (let i = 0; i < count && free > 0; i++) listeners[(first + i) % count]!();
    },
    onFree: (listener) => void listeners.push(listener),
  };
};
