// The relay against the ceiling: the same messages published straight from Node to the same
// nats-server, then moved by the relay from PostgreSQL, across the same number of tenant streams.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, nanos } from '@nats-io/transport-node';
import { relay, silentLogger, tenantStreamNames } from '../src/index.ts';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { startLocalNats } from '../test/support/localNats.ts';
import { benchServer } from './benchDatabase.ts';

const events = Number(process.env.BENCH_EVENTS ?? 100_000);
const tenants = Number(process.env.BENCH_TENANTS ?? 1000);
const batch = 1000;
const log = (line: string): boolean => process.stdout.write(`${line}\n`);
const tenantOf = (i: number): string => `tenant-${i % tenants}`;

const server = await benchServer();
const nats = process.env.NATS_URL === undefined ? await startLocalNats() : undefined;
const servers = process.env.NATS_URL ?? nats!.url;
try {
  const connectionString = await server.createDatabase('bench_relay');
  const store = getPostgreSQLEventStore(connectionString);
  await store.schema.migrate();
  /** Appends `events` events, ten per cart stream, 10 appends at a time, spread over the tenants. */
  const append = async (round: number): Promise<void> => {
    const appendStarted = Date.now();
    for (let i = 0; i < events; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, events - i) / 10 }, (_, lane) =>
          store.appendToStream(`cart-${round}-${i + lane * 10}`, Array.from({ length: 10 }, (_, k) => ({
            type: 'ItemAdded',
            data: { cartId: `cart-${i + lane * 10}`, amount: k },
            metadata: { tenant: tenantOf(i + lane * 10 + k) },
          }))),
        ),
      );
    }
    log(`appended ${events} events for ${tenants} tenants in ${((Date.now() - appendStarted) / 1000).toFixed(1)} s`);
  };
  await append(1);

  // (a) the ceiling: same subjects, headers and payload sizes, published async in batches of 1000, acks awaited per batch.
  const nc = await connect({ servers });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const creationStarted = Date.now();
  for (let t = 0; t < tenants; t++) {
    const names = tenantStreamNames('ceiling', tenantOf(t));
    await jsm.streams.add({ name: names.stream, subjects: [names.subjects], duplicate_window: nanos(120_000) });
  }
  log(`creating ${tenants} streams one by one took ${((Date.now() - creationStarted) / 1000).toFixed(1)} s (not counted in the ceiling)`);
  const payload = JSON.stringify({ type: 'ItemAdded', data: { cartId: 'cart-000000', amount: 5 }, metadata: { tenant: 'tenant-000', streamName: 'cart-000000', messageId: '00000000-0000-0000-0000-000000000000', streamPosition: '10', globalPosition: '100000' } });
  const ceilingStarted = Date.now();
  for (let i = 0; i < events; i += batch) {
    const acks = [];
    for (let k = i; k < Math.min(events, i + batch); k++) {
      const h = headers();
      h.set('Distributary-Global-Position', String(k));
      h.set('Distributary-Tenant', tenantOf(k));
      acks.push(js.publish(tenantStreamNames('ceiling', tenantOf(k)).subject('ItemAdded'), payload, { msgID: String(k), headers: h }));
    }
    await Promise.all(acks);
  }
  const ceilingRate = events / ((Date.now() - ceilingStarted) / 1000);
  log(`(a) raw async publish: ${ceilingRate.toFixed(0)} msgs/s`);
  await nc.close();

  /** A relay started on a backlog of `events` events, timed until it has published them all. */
  const timedRelay = async (): Promise<number> => {
    const running = relay({ connectionString, nats: { servers }, app: 'bench', logger: silentLogger, batchSize: batch });
    const started = Date.now();
    await running.start();
    await running.whenCaughtUp({ timeoutMs: 3_600_000 });
    const rate = events / ((Date.now() - started) / 1000);
    await running.stop();
    return rate;
  };

  // (b) the relay: reads PostgreSQL in delivery order, creates the tenant streams, publishes, waits for acks, checkpoints.
  const relayRate = await timedRelay();
  log(`(b) relay from PostgreSQL across ${tenants} tenant streams, creating them: ${relayRate.toFixed(0)} events/s, ratio ${(relayRate / ceilingRate).toFixed(2)}`);

  // (c) the same again once the streams exist: a relay starting on a backlog of as many new events.
  await append(2);
  await store.close();
  const againRate = await timedRelay();
  log(`(c) relay across ${tenants} existing tenant streams: ${againRate.toFixed(0)} events/s, ratio ${(againRate / ceilingRate).toFixed(2)} (target >= 0.5)`);
} finally {
  await nats?.stop();
  await server.close();
}
