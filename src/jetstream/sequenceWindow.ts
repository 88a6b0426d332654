/** A delivery of one stream message: where it sits in the stream, and how to settle it with the server. */
export type SequencedMessage = { readonly sequence: number; ack(): void; nak(): void };

/**
 * The messages of one open consumer between its last committed one and the newest that arrived:
 * held (arrived early, waiting for an older one), in flight (handed out, not committed yet), and late
 * copies (redelivered while their original was in flight).
 */
export type SequenceWindow<Message extends SequencedMessage> = {
  /** A delivery arrived. A redelivered copy replaces the one held, so the ack goes to the newest delivery. */
  arrive(message: Message): void;
  /**
   * Up to `max` messages in order from `next()` on, now in flight; empty while the next one in order
   * is not here. Copies of what is committed are acked again; copies of what is still in flight are
   * acked once that commits (an ack covers earlier deliveries, not a later copy).
   */
  take(max: number): Message[];
  /** The first sequence not handed out yet. */
  next(): number;
  /** Later messages are held while the next one in order is missing. */
  waitingForNext(): boolean;
  /** Nothing held and nothing in flight. */
  empty(): boolean;
  /** Deliveries not acked or nakked yet: held, in flight and late copies. */
  size(): number;
  /** A batch `take` returned committed: acks it in order, and the late copies it covers. */
  committed(batch: readonly Message[]): void;
  /** Everything before `sequence` was applied another way (read from the event store): go on from there. */
  resumeAt(sequence: number): void;
  /** Hands back everything held, in flight or waiting for a commit, so whoever consumes next gets it at once. */
  nakAll(): void;
};

export const sequenceWindow = <Message extends SequencedMessage>(first: number): SequenceWindow<Message> => {
  const held = new Map<number, Message>();
  const inFlight = new Set<Message>();
  let lateCopies: Message[] = [];
  let next = first;
  let committed = first - 1;
  return {
    arrive(message) {
      held.set(message.sequence, message);
    },
    take(max) {
      for (const [sequence, message] of held) {
        if (sequence >= next) continue;
        held.delete(sequence);
        if (sequence <= committed) message.ack();
        else lateCopies.push(message);
      }
      const batch: Message[] = [];
      for (let message = held.get(next); message !== undefined && batch.length < max; message = held.get(next)) {
        held.delete(next);
        inFlight.add(message);
        batch.push(message);
        next++;
      }
      return batch;
    },
    next: () => next,
    waitingForNext: () => held.size > 0,
    empty: () => held.size === 0 && inFlight.size === 0,
    size: () => held.size + inFlight.size + lateCopies.length,
    committed(batch) {
      for (const message of batch) {
        message.ack();
        inFlight.delete(message);
      }
      committed = Math.max(committed, batch.at(-1)?.sequence ?? committed);
      lateCopies = lateCopies.filter((copy) => {
        if (copy.sequence > committed) return true;
        copy.ack();
        return false;
      });
    },
    resumeAt(sequence) {
      next = sequence;
      committed = sequence - 1;
    },
    nakAll() {
      for (const message of [...inFlight, ...lateCopies, ...held.values()]) message.nak();
      inFlight.clear();
      lateCopies = [];
      held.clear();
    },
  };
};
