import { describe, expect, it } from 'vitest';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { projectionEngine, relay, silentLogger, tenantStreamNames, type RelayOptions } from '../../src/index.js';
import { consumerConfig } from '../../src/jetstream/streamConsumers.js';
import { useTestDatabase } from '../support/database.js';
import { connectNats, natsUrl, uniqueApp } from '../support/nats.js';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.js';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);

const runRelay = async (connectionString: string, options: Pick<RelayOptions, 'app' | 'stream'>): Promise<void> => {
  const running = relay({ connectionString, nats: { servers: natsUrl() }, logger: silentLogger, ...options });
  await running.start();
  try {
    await running.whenCaughtUp({ timeoutMs: 60_000 });
  } finally {
    await running.stop();
  }
};


describe('stream consumers keep each partition in order', () => {
  const database = useTestDatabase();

  const firstRound = async (connectionString: string, app: string, tenant: string, stream?: RelayOptions['stream']): Promise<void> => {
    await appendLedgerEvents(connectionString, { tenants: 1, carts: 5, events: 50, seed: 71, tenantName: () => tenant });
    await runRelay(connectionString, { app, stream });
    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, transport: { type: 'jetstream', servers: natsUrl(), app } });
    await engine.start();
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
    await engine.stop();
  };

  it('holds messages that arrive before an older one that is redelivered, and applies them after it', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const tenant = 'stolen';
    await appendLedgerEvents(connectionString, { tenants: 1, carts: 5, events: 50, seed: 71, tenantName: () => tenant });
    const running = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    const engine = projectionEngine({
      connectionString,
      projectors,
      logger: silentLogger,
      transport: { type: 'jetstream', servers: natsUrl(), app, ackWaitMs: 2000 },
    });
    await running.start();
    await engine.start();
    const nc = await connectNats();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      // Someone else queues a pull on the projector's consumer behind the engine's: once the engine's
      // pull is served, the next message goes to it, and it never acks.
      const { stream } = tenantStreamNames(app, tenant);
      const durable = consumerConfig({ processorId: 'ledger-hash', batchSize: 50 }).durable_name;
      const stealing = (await jetstream(nc).consumers.get(stream, durable)).next({ expires: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await appendLedgerEvents(connectionString, { tenants: 1, carts: 5, events: 200, seed: 72, tenantName: () => tenant });
      const stolen = await stealing;
      await running.whenCaughtUp({ timeoutMs: 60_000 });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      const info = await (await jetstreamManager(nc)).consumers.info(stream, durable);
      // It was not the last one: later messages reached the engine before it came back.
      expect(stolen?.info.streamSequence).toBeLessThan(250);
      // It came back to the engine after the ack wait: one more delivery than messages.
      expect(info.delivered.consumer_seq).toBeGreaterThan(info.delivered.stream_seq);
      expect(info.ack_floor.stream_seq).toBe(250);
    } finally {
      await nc.close();
      await engine.stop();
      await running.stop();
    }
    expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
    expect(await fifoViolations(db, 'ledger-hash')).toEqual([]);
  });

  it('resumes on a consumer a take-over made start after its ack floor, before that consumer acked anything', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const tenant = 'restarted';
    await firstRound(connectionString, app, tenant);
    const nc = await connectNats();
    try {
      // As a take-over leaves it: the consumer starts right after the 50 committed messages and has
      // acked nothing yet, nobody holds anything of it.
      const jsm = await jetstreamManager(nc);
      const { stream } = tenantStreamNames(app, tenant);
      const config = consumerConfig({ processorId: 'ledger-hash', batchSize: 50 });
      await jsm.consumers.delete(stream, config.durable_name);
      await jsm.consumers.add(stream, { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 51 });
      await appendLedgerEvents(connectionString, { tenants: 1, carts: 5, events: 30, seed: 73, tenantName: () => tenant });
      await runRelay(connectionString, { app });
      const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, transport: { type: 'jetstream', servers: natsUrl(), app } });
      await engine.start();
      try {
        await engine.whenCaughtUp({ timeoutMs: 20_000 });
      } finally {
        await engine.stop();
      }
      expect((await jsm.consumers.info(stream, config.durable_name)).ack_floor.stream_seq).toBe(80);
    } finally {
      await nc.close();
    }
    expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
  });

  it('reads from the event store what the stream no longer holds, then follows the stream', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const limits = { maxMessages: 10 };
    const tenant = 'retention';
    // The projector's consumer stopped at 50; while no host ran it, the stream dropped 51..140.
    await firstRound(connectionString, app, tenant, limits);
    await appendLedgerEvents(connectionString, { tenants: 1, carts: 5, events: 100, seed: 73, tenantName: () => tenant });
    await runRelay(connectionString, { app, stream: limits });
    const nc = await connectNats();
    const { state } = await (await jetstreamManager(nc)).streams.info(tenantStreamNames(app, tenant).stream);
    await nc.close();
    expect(state.first_seq).toBe(141);

    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, transport: { type: 'jetstream', servers: natsUrl(), app } });
    await engine.start();
    try {
      await runRelay(connectionString, { app, stream: limits });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      await appendLedgerEvents(connectionString, { tenants: 1, carts: 5, events: 20, seed: 74, tenantName: () => tenant });
      await runRelay(connectionString, { app, stream: limits });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await engine.stop();
    }
    expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
    expect(await fifoViolations(db, 'ledger-hash')).toEqual([]);
  });
});
