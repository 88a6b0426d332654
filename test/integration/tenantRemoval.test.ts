import { describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { projectionEngine, relay, silentLogger, tenantStreamNames, tenants, type ProjectionEngine } from '../../src/index.ts';
import { connectNats, natsUrl, uniqueApp } from '../support/nats.ts';
import { useTestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents, foldFromStore, readModelTotals, type Totals } from '../support/workload.ts';

const module = (name: string): URL => new URL(`../support/projections/${name}.ts`, import.meta.url);
const without = (totals: Totals, tenant: string): Totals => new Map([...totals].filter(([key]) => !key.startsWith(`${tenant}/`)));
const only = (totals: Totals, tenant: string): Totals => new Map([...totals].filter(([key]) => key.startsWith(`${tenant}/`)));

describe('a tenant leaving', () => {
  const database = useTestDatabase();

  it('leaves nothing of it but its events, the others unaffected, its new events not applied, until restored from its events', async () => {
    const { connectionString, db } = database;
    const operations = tenants({ connectionString });
    await appendLedgerEvents(connectionString, { tenants: 6, carts: 20, events: 1200, seed: 121 });
    let engine: ProjectionEngine = projectionEngine({ connectionString, projectors: module('rebuildLedgers'), logger: silentLogger, reader: { markIntervalMs: 100 } });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      await db.query("INSERT INTO distributary_partition_weights (processor_id, partition, weight) VALUES ('ledger-rebuild', 'tenant-2', 3)");
      const keptByWhole = only(await readModelTotals(db, 'ledger-whole'), 'tenant-2');
      expect(keptByWhole.size).toBeGreaterThan(0);

      const removed = await operations.remove('tenant-2', { purgeReadModels: true });
      expect(removed.removedAt).not.toBeNull();
      // ledger-whole cannot delete one tenant's rows: it keeps them, and the tombstone says so.
      expect(removed.error).toMatch(/rows kept by ledger-whole \(no truncatePartition\)/);
      expect(only(await readModelTotals(db, 'ledger-rebuild'), 'tenant-2').size).toBe(0);
      expect(only(await readModelTotals(db, 'ledger-whole'), 'tenant-2')).toEqual(keptByWhole);
      for (const table of ['distributary_partition_weights', 'distributary_partition_status', 'distributary_dead_letters']) {
        const { rows } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE partition = 'tenant-2'`);
        expect(Number(rows[0]!.n), table).toBe(0);
      }
      const checkpoints = await db.query("SELECT 1 FROM emt_processors WHERE partition = 'tenant-2'");
      expect(checkpoints.rowCount).toBe(0);
      // Removing again changes nothing.
      expect((await operations.remove('tenant-2', { purgeReadModels: true })).removedAt).toEqual(removed.removedAt);

      // Its new events are not applied; the others' are.
      await appendLedgerEvents(connectionString, { tenants: 6, carts: 20, events: 600, seed: 122 });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      const fold = await foldFromStore(db);
      expect(without(await readModelTotals(db, 'ledger-rebuild'), 'tenant-2')).toEqual(without(fold, 'tenant-2'));
      expect(only(await readModelTotals(db, 'ledger-rebuild'), 'tenant-2').size).toBe(0);
      expect(only(await readModelTotals(db, 'ledger-whole'), 'tenant-2')).toEqual(keptByWhole);
      expect((await operations.list()).find((t) => t.partition === 'tenant-2')).toMatchObject({ removed: true });

      // Restoring would replay over the rows ledger-whole kept: refused, saying why.
      await expect(operations.restore('tenant-2')).rejects.toThrow(/cannot restore: ledger-whole cannot rebuild one partition/);
      await engine.stop();

      // Under projectors that can rebuild it, the tenant comes back from its events.
      engine = projectionEngine({ connectionString, projectors: module('restorableLedger'), logger: silentLogger, reader: { markIntervalMs: 100 } });
      await engine.start();
      await operations.restore('tenant-2');
      await waitUntil('the restored tenant is rebuilt', async () => {
        const { rows } = await db.query<{ status: string }>("SELECT status FROM distributary_rebuilds WHERE partition = 'tenant-2' ORDER BY id DESC LIMIT 1");
        return rows[0]?.status === 'done';
      }, 60_000, 100);
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      expect(await readModelTotals(db, 'ledger-rebuild')).toEqual(await foldFromStore(db));
      expect((await operations.list()).find((t) => t.partition === 'tenant-2')).toMatchObject({ removed: false });
    } finally {
      await engine.stop();
      await operations.close();
    }
  });
});

describe('a tenant leaving over JetStream', () => {
  const database = useTestDatabase();

  it('loses its stream and consumers and its partitions on every host, the others go on, and a restore is refused saying how', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const operations = tenants({ connectionString });
    await appendLedgerEvents(connectionString, { tenants: 5, carts: 20, events: 800, seed: 131 });
    const shopRelay = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    const host = (hostId: string) =>
      projectionEngine({ connectionString, projectors: module('restorableLedger'), hostId, logger: silentLogger, lease: { group: app, timeoutMs: 3000 }, transport: { type: 'jetstream', servers: natsUrl(), app } });
    const engines = [host('host-a'), host('host-b')];
    await shopRelay.start();
    const nc = await connectNats();
    try {
      for (const engine of engines) await engine.start();
      await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
      await engines[0]!.whenCaughtUp({ timeoutMs: 60_000 });
      const stream = tenantStreamNames(app, 'tenant-1').stream;
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info(stream)).state.messages).toBeGreaterThan(0);

      const removed = await operations.remove('tenant-1', { purgeReadModels: true });
      expect(removed).toMatchObject({ partition: 'tenant-1', error: null });
      expect(removed.removedAt).not.toBeNull();
      await waitUntil('the tenant stream is deleted', async () => (await jsm.streams.info(stream).then(() => false, () => true)), 10_000, 100);
      expect(only(await readModelTotals(db, 'ledger-rebuild'), 'tenant-1').size).toBe(0);

      await appendLedgerEvents(connectionString, { tenants: 5, carts: 20, events: 400, seed: 132 });
      await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
      await engines[0]!.whenCaughtUp({ timeoutMs: 60_000 });
      const fold = await foldFromStore(db);
      expect(without(await readModelTotals(db, 'ledger-rebuild'), 'tenant-1')).toEqual(without(fold, 'tenant-1'));
      expect(only(await readModelTotals(db, 'ledger-rebuild'), 'tenant-1').size).toBe(0);
      expect(await jsm.streams.info(stream).then(() => 'exists', () => 'gone')).toBe('gone');
      for (const engine of engines) expect(engine.status().projectors[0]!.partitions.some((p) => p.partition === 'tenant-1')).toBe(false);

      await expect(operations.restore('tenant-1')).rejects.toThrow(/cannot restore over JetStream/);
    } finally {
      await nc.close();
      for (const engine of engines) await engine.stop();
      await shopRelay.stop();
      await operations.close();
    }
  });
});
