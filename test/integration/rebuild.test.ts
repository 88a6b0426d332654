import { describe, expect, it } from 'vitest';
import { projectionEngine, relay, silentLogger } from '../../src/index.ts';
import { natsUrl, uniqueApp } from '../support/nats.ts';
import { useTestDatabase } from '../support/database.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals, type Totals } from '../support/workload.ts';

const projectors = new URL('../support/projections/rebuildLedgers.ts', import.meta.url);
const only = (totals: Totals, tenant: string): Totals => new Map([...totals].filter(([key]) => key.startsWith(`${tenant}/`)));

describe('rebuilding read models live', () => {
  const database = useTestDatabase();

  it('rebuilds one corrupted partition while the others apply live events, ending equal to the fold, then a whole projector', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: 8, carts: 40, events: 4000, seed: 101 });
    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, reader: { markIntervalMs: 100 } });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      // Corruption: wrong totals and a lost row in tenant-7, the busiest tenant.
      await db.query("UPDATE ledger_totals SET total = total + 999 WHERE projector = 'ledger-rebuild' AND tenant = 'tenant-7'");
      await db.query("DELETE FROM ledger_totals WHERE projector = 'ledger-rebuild' AND tenant = 'tenant-7' AND cart_id = 'cart-1'");
      expect(only(await readModelTotals(db, 'ledger-rebuild'), 'tenant-7')).not.toEqual(only(await foldFromStore(db), 'tenant-7'));

      // Live events for every tenant while it rebuilds; the others' lag is watched all along.
      let appending = true;
      let seed = 200;
      const live = (async () => {
        while (appending) await appendLedgerEvents(connectionString, { tenants: 8, carts: 40, events: 50, seed: seed++ });
      })();
      let othersMaxLag = 0;
      const watching = setInterval(() => {
        const partitions = engine.status().projectors.find((p) => p.processorId === 'ledger-rebuild')?.partitions ?? [];
        for (const p of partitions) if (p.partition !== 'tenant-7') othersMaxLag = Math.max(othersMaxLag, p.lag);
      }, 20);
      const rebuilt = await engine.rebuild('ledger-rebuild', { partition: 'tenant-7', timeoutMs: 60_000 });
      appending = false;
      await live;
      clearInterval(watching);
      expect(rebuilt).toMatchObject({ status: 'done', partition: 'tenant-7' });
      expect(rebuilt.replayed).toBeGreaterThan(0);
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      expect(await readModelTotals(db, 'ledger-rebuild')).toEqual(await foldFromStore(db));
      expect(await fifoViolations(db, 'ledger-rebuild')).toEqual([]);
      // Other partitions kept up: never further behind than half a read batch (the rebuild begins with a new reader session).
      expect(othersMaxLag).toBeLessThanOrEqual(500);

      // Without truncatePartition, one partition cannot be rebuilt: refused, saying why.
      await expect(engine.rebuild('ledger-whole', { partition: 'tenant-1', timeoutMs: 30_000 })).rejects.toThrow(/ledger-whole' has no truncatePartition/);
      // The whole projector can: the projection's truncate, then every event once.
      await db.query("UPDATE ledger_totals SET total = 0 WHERE projector = 'ledger-whole'");
      const whole = await engine.rebuild('ledger-whole', { timeoutMs: 60_000 });
      expect(whole).toMatchObject({ status: 'done', partition: null });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      expect(await readModelTotals(db, 'ledger-whole')).toEqual(await foldFromStore(db));
      expect(await readModelTotals(db, 'ledger-rebuild')).toEqual(await foldFromStore(db));
    } finally {
      await engine.stop();
    }
  });
});

describe('rebuilding a partition over JetStream', () => {
  const database = useTestDatabase();

  it('is carried out by the host that owns the partition, fenced on its lease, while two hosts apply live events', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    await appendLedgerEvents(connectionString, { tenants: 6, carts: 30, events: 1500, seed: 111 });
    const shopRelay = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    const host = (hostId: string) =>
      projectionEngine({ connectionString, projectors, hostId, logger: silentLogger, lease: { group: app, timeoutMs: 3000 }, transport: { type: 'jetstream', servers: natsUrl(), app } });
    const engines = [host('host-a'), host('host-b')];
    await shopRelay.start();
    try {
      for (const engine of engines) await engine.start();
      await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
      await engines[0]!.whenCaughtUp({ timeoutMs: 60_000 });
      await db.query("UPDATE ledger_totals SET total = total + 999 WHERE projector = 'ledger-rebuild' AND tenant = 'tenant-5'");
      let appending = true;
      let seed = 300;
      const live = (async () => {
        while (appending) await appendLedgerEvents(connectionString, { tenants: 6, carts: 30, events: 30, seed: seed++ });
      })();
      // Asked from either host: the one that owns the partition does it.
      const rebuilt = await engines[1]!.rebuild('ledger-rebuild', { partition: 'tenant-5', timeoutMs: 60_000 });
      appending = false;
      await live;
      expect(rebuilt).toMatchObject({ status: 'done', partition: 'tenant-5' });
      await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
      await engines[0]!.whenCaughtUp({ timeoutMs: 60_000 });
      expect(await readModelTotals(db, 'ledger-rebuild')).toEqual(await foldFromStore(db));
      expect(await fifoViolations(db, 'ledger-rebuild')).toEqual([]);
      // A quiet tenant (no event since) is done once it has replayed its stream, not the whole store.
      await db.query("UPDATE ledger_totals SET total = total + 1 WHERE projector = 'ledger-rebuild' AND tenant = 'tenant-0'");
      expect(await engines[0]!.rebuild('ledger-rebuild', { partition: 'tenant-0', timeoutMs: 30_000 })).toMatchObject({ status: 'done' });
      expect(await readModelTotals(db, 'ledger-rebuild')).toEqual(await foldFromStore(db));
      // Over JetStream a whole projector is rebuilt by an engine reading the store: refused, saying so.
      await expect(engines[0]!.rebuild('ledger-whole', { timeoutMs: 30_000 })).rejects.toThrow(/over JetStream, rebuild its partitions/);
    } finally {
      for (const engine of engines) await engine.stop();
      await shopRelay.stop();
    }
  });
});
