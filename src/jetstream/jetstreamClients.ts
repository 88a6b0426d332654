import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

type Clients = { js: JetStreamClient; jsm: Promise<JetStreamManager> };

const byConnection = new WeakMap<NatsConnection, Clients>();

/**
 * One JetStream client and one manager per connection, shared by every partition of a host: made
 * per partition, thousands of them (each with its API objects) stayed alive as long as the partitions.
 */
export const jetstreamClients = (nc: NatsConnection): Clients => {
  let clients = byConnection.get(nc);
  if (clients === undefined) {
    const jsm = jetstreamManager(nc, { checkAPI: false });
    // A failed creation is not kept: the next caller tries again.
    jsm.catch(() => byConnection.delete(nc));
    clients = { js: jetstream(nc), jsm };
    byConnection.set(nc, clients);
  }
  return clients;
};

/** The connection's shared JetStream manager (see jetstreamClients). */
export const sharedManager = (nc: NatsConnection): Promise<JetStreamManager> => jetstreamClients(nc).jsm;
