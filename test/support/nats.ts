import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { inject } from 'vitest';

/** The suite's nats-server; fails with what to do when there is none. */
export const natsUrl = (): string => {
  const url = inject('natsUrl');
  if (url === null) throw new Error('no nats-server for the tests: install nats-server (apt-get install nats-server), run a Docker engine, or set NATS_URL');
  return url;
};

/** An app name no other test file uses, so streams on the shared server never mix. */
export const uniqueApp = (): string => `t${randomUUID().replaceAll('-', '').slice(0, 10)}`;

export type StoredMessage = { position: bigint; tenant: string; type: string };

/** Every message a stream holds, in stream order. */
export const readTenantStream = async (nc: NatsConnection, stream: string): Promise<StoredMessage[]> => {
  const jsm = await jetstreamManager(nc);
  const count = (await jsm.streams.info(stream)).state.messages;
  const out: StoredMessage[] = [];
  if (count === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream);
  const messages = await consumer.consume();
  for await (const message of messages) {
    out.push({
      position: BigInt(message.headers?.get('Distributary-Global-Position') ?? '-1'),
      tenant: message.headers?.get('Distributary-Tenant') ?? '',
      type: message.headers?.get('Distributary-Event-Type') ?? '',
    });
    if (out.length >= count) break;
  }
  await messages.close();
  return out;
};

export const connectNats = (): Promise<NatsConnection> => connect({ servers: natsUrl() });
