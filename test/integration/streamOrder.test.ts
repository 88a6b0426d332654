import { describe, expect, it } from 'vitest';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { projectionEngine, relay, silentLogger, tenantStreamNames, type RelayOptions } from '../../src/index.ts';
import { consumerConfig } from '../../src/jetstream/streamConsumers.ts';
import { relayProcessorId } from '../../src/jetstream/relaySession.ts';
import { tenantRegistryBucket } from '../../src/jetstream/relay.ts';
import { useTestDatabase } from '../support/database.ts';
import { connectNats, natsUrl, uniqueApp } from '../support/nats.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.ts';

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

  it('takes the position from the headers of messages whose payload does not carry it (an older relay)', async () => {
    const { connectionString, db } = database;
    const [app, older] = [uniqueApp(), uniqueApp()];
    const tenant = 'headers-only';
    await appendLedgerEvents(connectionString, { tenants: 1, carts: 4, events: 60, seed: 73, tenantName: () => tenant });
    await runRelay(connectionString, { app });
    const nc = await connectNats();
    try {
      // The relay's stream copied into another app's, as a relay that wrote no position into payloads made it.
      const jsm = await jetstreamManager(nc);
      const [from, to] = [tenantStreamNames(app, tenant), tenantStreamNames(older, tenant)];
      await jsm.streams.add({ name: to.stream, subjects: [to.subjects] });
      const { state } = await jsm.streams.info(from.stream);
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const stored = await jsm.streams.getMessage(from.stream, { seq });
        const { transactionId, ...payload } = stored!.json<{ transactionId?: string; type: string }>();
        expect(transactionId).toMatch(/^\d+$/);
        const copied = natsHeaders();
        for (const [name, values] of stored!.header) for (const value of values) copied.append(name, value);
        await jetstream(nc).publish(to.subject(payload.type), JSON.stringify(payload), { headers: copied });
      }
      const registry = await new Kvm(nc).create(tenantRegistryBucket(older), { history: 1 });
      await registry.put(to.token, JSON.stringify({ tenant, stream: to.stream, subjects: to.subjects, createdAt: new Date().toISOString() }));
    } finally {
      await nc.close();
    }
    // The older relay has stored no checkpoint yet, so the engine backfills nothing from the store: all
    // of the tenant's events come through the copied stream.
    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, transport: { type: 'jetstream', servers: natsUrl(), app: older } });
    await engine.start();
    try {
      // Then it reports as far as the real one got.
      await db.query(
        `INSERT INTO emt_processors (processor_id, partition, version, last_processed_checkpoint, last_processed_transaction_id, processor_instance_id, status, created_at, last_updated)
         SELECT $2, partition, version, last_processed_checkpoint, last_processed_transaction_id, processor_instance_id, status, now(), now()
           FROM emt_processors WHERE processor_id = $1`,
        [relayProcessorId(app), relayProcessorId(older)],
      );
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await engine.stop();
    }
    const ofTenant = (totals: Map<string, unknown>) => new Map([...totals].filter(([key]) => key.startsWith(`${tenant}/`)));
    const fold = ofTenant(await foldFromStore(db));
    expect(fold.size).toBe(4);
    expect(ofTenant(await readModelTotals(db, 'ledger-hash'))).toEqual(fold);
    expect(await fifoViolations(db, 'ledger-hash')).toEqual([]);
  });
});
