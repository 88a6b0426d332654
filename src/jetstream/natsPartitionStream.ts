import { DeliverPolicy, type ConsumerConfig, type ConsumerInfo, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Limiter } from '../core/limiter.ts';
import type { Position } from '../core/position.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import { reviveEvent, type StoredEvent } from '../projector/reviveEvent.ts';
import type { ConsumerState, PartitionStream, StreamMessage } from './partitionStream.ts';
import { jetstreamClients } from './jetstreamClients.ts';
import { RelayHeaders } from './streamNames.ts';

const positionOf = (headers: { get(name: string): string } | undefined): Position => ({
  tx: BigInt(headers?.get(RelayHeaders.transactionId) || '0'),
  global: BigInt(headers?.get(RelayHeaders.globalPosition) || '0'),
});

/**
 * A relayed message as the partition runner takes it. The payload carries the event's position too
 * (the relay writes its transaction id next to the event), which spares decoding the headers of every
 * message; messages without it take the position from the headers.
 */
const toItem = (message: JsMsg): PositionedEvent => {
  const stored = message.json<StoredEvent & { transactionId?: string; appendedAt?: number }>();
  const event = reviveEvent(stored);
  const position = stored.transactionId === undefined ? positionOf(message.headers) : { tx: BigInt(stored.transactionId), global: event.metadata.globalPosition };
  return stored.appendedAt === undefined ? { position, event } : { position, event, appendedAt: stored.appendedAt };
};

const streamMessage = (message: JsMsg): StreamMessage => ({
  sequence: message.info.streamSequence,
  item: () => toItem(message),
  ack: () => {
    try {
      message.ack();
    } catch {
      // The connection is gone; the server redelivers after the ack wait, and the checkpoint skips it.
    }
  },
  nak: () => {
    try {
      message.nak();
    } catch {
      // The connection is gone; the server redelivers after the ack wait.
    }
  },
});

/**
 * The last message acked in order. A consumer made to start at some sequence (by a take-over) may
 * report a floor of 0 until its first ack; everything before its start was committed and acked.
 */
const ackFloor = (info: ConsumerInfo): number => Math.max(info.ack_floor.stream_seq, (info.config.opt_start_seq ?? 1) - 1);

/** One tenant stream and one projector's durable consumer on it, over JetStream. */
export const natsPartitionStream = (
  nc: NatsConnection,
  options: {
    stream: string;
    config: Partial<ConsumerConfig> & { durable_name: string };
    /** Messages the consumer keeps buffered in the client. */
    maxMessages: number;
    /** Bounds the JetStream API requests. */
    api: Limiter;
  },
): PartitionStream => {
  const { stream, config, api } = options;
  const durable = config.durable_name;
  const { js, jsm: manager } = jetstreamClients(nc);
  // The consumer last seen, to consume from without asking for its info again (then let go: a
  // sleeping partition keeps nothing of it).
  let latest: ConsumerInfo | undefined;
  const seen = (info: ConsumerInfo): ConsumerState => {
    latest = info;
    return { ackFloor: ackFloor(info), pending: info.num_pending, ackPending: info.num_ack_pending, waiting: info.num_waiting };
  };

  return {
    async consumer() {
      const jsm = await manager;
      const info = await api(() => jsm.consumers.info(stream, durable)).catch(() => undefined);
      return info === undefined ? null : seen(info);
    },
    async createConsumer() {
      const jsm = await manager;
      return seen(await api(() => jsm.consumers.add(stream, config)));
    },
    async replaceConsumer(floor) {
      const jsm = await manager;
      await api(() => jsm.consumers.delete(stream, durable)).catch(() => undefined);
      const startAfterFloor = floor === 0 ? config : { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: floor + 1 };
      return seen(await api(() => jsm.consumers.add(stream, startAfterFloor)));
    },
    async consume(onMessage) {
      const consumer = latest === undefined ? await api(() => js.consumers.get(stream, durable)) : js.consumers.getConsumerFromInfo(latest);
      latest = undefined;
      const messages = await consumer.consume({ max_messages: options.maxMessages, callback: (message) => onMessage(streamMessage(message)) });
      return {
        close: async () => void (await messages.close().catch(() => undefined)),
        closed: messages.closed().then(
          () => undefined,
          () => undefined,
        ),
      };
    },
    async firstSequence() {
      const jsm = await manager;
      return (await api(() => jsm.streams.info(stream))).state.first_seq;
    },
    async positionAt(sequence) {
      const jsm = await manager;
      const message = await api(() => jsm.streams.getMessage(stream, { seq: sequence }));
      return message === null ? null : positionOf(message.header);
    },
  };
};
