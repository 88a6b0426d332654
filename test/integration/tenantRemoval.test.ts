import { describe, expect, it } from 'vitest';
import { projectionEngine, silentLogger, tenants, type ProjectionEngine } from '../../src/index.ts';
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
