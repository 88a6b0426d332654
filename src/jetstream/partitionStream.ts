import type { Position } from '../core/position.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';

/*
 * The port through which a partition's consumption reaches its stream: implemented over NATS by
 * natsPartitionStream, and in memory by the consumption's unit tests.
 */

/** One delivery of a stream message. */
export type StreamMessage = {
  /** Where the message sits in the stream. */
  readonly sequence: number;
  /** The event it carries, with its position in the event store. */
  item(): PositionedEvent;
  /** Settles this delivery; never throws (a message whose ack is lost comes back after the ack wait). */
  ack(): void;
  /** Hands the message back to be delivered again at once; never throws. */
  nak(): void;
};

/** The durable consumer as the server reports it. */
export type ConsumerState = {
  /** The last sequence acked in order (a consumer made to start later counts everything before its start). */
  ackFloor: number;
  /** Messages not delivered yet. */
  pending: number;
  /** Messages delivered and not acked yet. */
  ackPending: number;
  /** Pull requests waiting on it. */
  waiting: number;
};

/** Deliveries from the durable consumer, until closed. */
export type StreamSubscription = {
  /** Stops the deliveries; never rejects. */
  close(): Promise<void>;
  /** Resolves once deliveries ended: closed, or failed. */
  readonly closed: Promise<void>;
};

/** The partition's stream and the projector's durable consumer on it. */
export type PartitionStream = {
  /** The durable consumer, or null when it does not exist. */
  consumer(): Promise<ConsumerState | null>;
  /** Creates the durable consumer, delivering from the start of the stream. */
  createConsumer(): Promise<ConsumerState>;
  /** Deletes the durable consumer and creates it again, delivering the messages after `ackFloor`. */
  replaceConsumer(ackFloor: number): Promise<ConsumerState>;
  /** Delivers the consumer's messages to `onMessage` as they come. */
  consume(onMessage: (message: StreamMessage) => void): Promise<StreamSubscription>;
  /** The first sequence the stream still holds. */
  firstSequence(): Promise<number>;
  /** The event-store position of the message at `sequence`, or null when the stream does not hold it. */
  positionAt(sequence: number): Promise<Position | null>;
};
