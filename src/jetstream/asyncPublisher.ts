import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { DistributaryError } from '../core/errors.ts';

export type PublishAck = { stream: string; seq: number; duplicate: boolean };

export type AsyncPublisher = {
  /**
   * Publishes every message with a reply subject of its own under one inbox and resolves when
   * JetStream acked them all, in order; rejects on the first error reply or after `timeoutMs`.
   */
  publishAll(messages: readonly { subject: string; payload: string; headers: MsgHdrs }[], timeoutMs: number): Promise<PublishAck[]>;
  close(): void;
};

type Waiting = { resolve: (ack: PublishAck) => void; reject: (error: Error) => void };

const decoder = new TextDecoder();

/*
 * JetStream publishing without a request per message: all acks come back on one subscription and are
 * matched by the last token of their reply subject. A batch costs one subscription lookup per ack and
 * one timer, where a request per message would cost a timer and an error object each.
 */
export const asyncPublisher = (nc: NatsConnection): AsyncPublisher => {
  const inbox = createInbox();
  const waiting = new Map<string, Waiting>();
  let counter = 0;
  const subscription: Subscription = nc.subscribe(`${inbox}.*`, {
    callback: (error, message) => {
      if (error !== null) {
        for (const pending of waiting.values()) pending.reject(error);
        waiting.clear();
        return;
      }
      const token = message.subject.slice(inbox.length + 1);
      const pending = waiting.get(token);
      if (pending === undefined) return;
      waiting.delete(token);
      const status = message.headers?.code ?? 0;
      if (status >= 300 || message.data.length === 0) {
        pending.reject(new DistributaryError(`JetStream did not store the message: ${status === 503 ? 'no stream captures its subject' : `status ${status} ${message.headers?.description ?? ''}`}`));
        return;
      }
      const reply = JSON.parse(decoder.decode(message.data)) as { stream?: string; seq?: number; duplicate?: boolean; error?: { code: number; description: string } };
      if (reply.error !== undefined || reply.stream === undefined || reply.seq === undefined)
        pending.reject(new DistributaryError(`JetStream refused the message: ${reply.error?.description ?? 'no ack'} (${reply.error?.code ?? '?'})`));
      else pending.resolve({ stream: reply.stream, seq: reply.seq, duplicate: reply.duplicate === true });
    },
  });

  return {
    publishAll(messages, timeoutMs) {
      const tokens: string[] = [];
      const forget = (): void => tokens.forEach((token) => waiting.delete(token));
      let acks: Promise<PublishAck>[];
      try {
        acks = messages.map(({ subject, payload, headers }) => {
          const token = (counter++).toString(36);
          tokens.push(token);
          const ack = new Promise<PublishAck>((resolve, reject) => waiting.set(token, { resolve, reject }));
          nc.publish(subject, payload, { reply: `${inbox}.${token}`, headers });
          return ack;
        });
      } catch (error) {
        forget();
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DistributaryError(`JetStream acked fewer than ${messages.length} messages within ${timeoutMs} ms`)), timeoutMs);
      });
      return Promise.race([Promise.all(acks), timedOut]).finally(() => {
        clearTimeout(timer);
        forget();
      });
    },
    close: () => subscription.unsubscribe(),
  };
};
