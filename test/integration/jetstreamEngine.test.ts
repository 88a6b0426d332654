import { describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { projectionEngine, relay, silentLogger, tenantStreamNames } from '../../src/index.ts';
import { SleepAfterMs } from '../../src/jetstream/streamConsumers.ts';
import { useTestDatabase } from '../support/database.ts';
import { startLocalNats } from '../support/localNats.ts';
import { connectNats, natsUrl, uniqueApp } from '../support/nats.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.ts';

const projection = (name: string): URL => new URL(`../support/projections/${name}.ts`, import.meta.url);

describe('projectors over JetStream', () => {
  const database = useTestDatabase();

  it('apply the tenant streams through the same partition runner, pick up new tenants, and equal the fold of the events', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    await appendLedgerEvents(connectionString, { tenants: 30, carts: 60, events: 4000, seed: 61, parallel: 4 });
    const shopRelay = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger, batchSize: 300 });
    const engine = projectionEngine({ connectionString, projectors: projection('hashLedger'), logger: silentLogger, transport: { type: 'jetstream', servers: natsUrl(), app } });
    await shopRelay.start();
    await engine.start();
    try {
      await engine.whenActive();
      await appendLedgerEvents(connectionString, { tenants: 10, carts: 20, events: 2000, seed: 62, parallel: 4, tenantName: (i) => `late-${i}` });
      await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
      expect(await fifoViolations(db, 'ledger-hash')).toEqual([]);
      const partitions = engine.status().projectors[0]!.partitions.map((p) => p.partition);
      expect(partitions).toEqual(expect.arrayContaining(['late-0', 'late-9', 'tenant-29']));
      // The late tenants appeared after the engine started: their events came through their streams.
      const nc = await connectNats();
      const consumer = await (await jetstreamManager(nc)).consumers.info(tenantStreamNames(app, 'late-0').stream, 'ledger-hash');
      await nc.close();
      expect(consumer.delivered.stream_seq).toBeGreaterThan(0);
      expect(consumer.num_ack_pending).toBe(0);
    } finally {
      await engine.stop();
      await shopRelay.stop();
    }
  });

  it('lets partitions with nothing to do sleep without a pull of their own, and wakes them when their stream gets more', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const tenantName = (i: number): string => `sleepy-${i}`;
    await appendLedgerEvents(connectionString, { tenants: 12, carts: 20, events: 600, seed: 66, tenantName });
    const shopRelay = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    const engine = projectionEngine({ connectionString, projectors: projection('hashLedger'), logger: silentLogger, transport: { type: 'jetstream', servers: natsUrl(), app } });
    const nc = await connectNats();
    await shopRelay.start();
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      const jsm = await jetstreamManager(nc);
      const consumers = Array.from({ length: 12 }, (_, i) => tenantStreamNames(app, tenantName(i)).stream);
      const waiting = async (): Promise<number> =>
        (await Promise.all(consumers.map(async (stream) => (await jsm.consumers.info(stream, 'ledger-hash')).num_waiting))).reduce((a, b) => a + b, 0);
      expect(await waiting()).toBeGreaterThan(0);
      // Each consumer loop closes after SleepAfterMs without messages: no pull request is left waiting.
      await waitUntil('no consumer has a pull waiting', async () => (await waiting()) === 0, SleepAfterMs + 35_000, 250);
      await appendLedgerEvents(connectionString, { tenants: 12, carts: 20, events: 300, seed: 67, tenantName });
      // Woken by the relay's notice, not by the once-a-minute look over the streams.
      await engine.whenCaughtUp({ timeoutMs: 15_000 });
      expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
    } finally {
      await nc.close();
      await engine.stop();
      await shopRelay.stop();
    }
  });

  it('loses and doubles nothing when nats-server restarts while relay and projectors run', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const ownNats = await startLocalNats();
    await appendLedgerEvents(connectionString, { tenants: 20, carts: 40, events: 6000, seed: 64, parallel: 4, tenantName: (i) => `restart-${i}` });
    const shopRelay = relay({ connectionString, nats: { servers: ownNats.url }, app, logger: silentLogger, batchSize: 200 });
    const engine = projectionEngine({ connectionString, projectors: projection('hashLedger'), logger: silentLogger, transport: { type: 'jetstream', servers: ownNats.url, app } });
    await shopRelay.start();
    await engine.start();
    try {
      await waitUntil('some events went through the streams', () => shopRelay.status().published > 1000, 60_000, 10);
      await ownNats.restart();
      await appendLedgerEvents(connectionString, { tenants: 25, carts: 40, events: 2000, seed: 65, parallel: 4, tenantName: (i) => `restart-${i}` });
      await shopRelay.whenCaughtUp({ timeoutMs: 90_000 });
      await engine.whenCaughtUp({ timeoutMs: 90_000 });
    } finally {
      await engine.stop();
      await shopRelay.stop();
      await ownNats.stop();
    }
    expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
    expect(await fifoViolations(db, 'ledger-hash')).toEqual([]);
  });

  it('backfills a projector added after the events were relayed, then follows the streams with no gap and no duplicate', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const shopRelay = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    await shopRelay.start();
    try {
      await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
      const engine = projectionEngine({ connectionString, projectors: projection('twoLedgers'), logger: silentLogger, transport: { type: 'jetstream', servers: natsUrl(), app } });
      await engine.start();
      try {
        await engine.whenCaughtUp({ timeoutMs: 90_000 });
        await appendLedgerEvents(connectionString, { tenants: 5, carts: 5, events: 500, seed: 63, tenantName: (i) => `after-${i}` });
        await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
        await engine.whenCaughtUp({ timeoutMs: 60_000 });
      } finally {
        await engine.stop();
      }
    } finally {
      await shopRelay.stop();
    }
    const fold = await foldFromStore(db);
    expect(await readModelTotals(db, 'ledger-per-partition')).toEqual(fold);
    expect(await readModelTotals(db, 'ledger-hash')).toEqual(fold);
    expect(await fifoViolations(db, 'ledger-per-partition')).toEqual([]);
  });
});
