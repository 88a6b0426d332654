import { dumbo } from '@event-driven-io/dumbo';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { describe, expect, it } from 'vitest';
import { migrate, projectionEngine, silentLogger } from '../../src/index.js';
import { applyPartitionBatch } from '../../src/postgres/applyPartitionBatch.js';
import { initProjection } from '../../src/postgres/initProjection.js';
import { readEventBatch } from '../../src/postgres/readEventBatch.js';
import { BeforeFirstPosition } from '../../src/core/position.js';
import { startChildEngine } from '../support/childEngine.js';
import { useTestDatabase } from '../support/database.js';
import { hashLedger } from '../support/projections/hashLedger.js';
import type { ItemAdded } from '../support/projections/ledger.js';
import type { ProjectorEvent } from '../../src/index.js';
import { waitUntil } from '../support/waitUntil.js';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.js';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);

describe('ownership', () => {
  const database = useTestDatabase();

  it('gives up a partition when another owner committed past it, rolling its batch back', async () => {
    await migrate(database.connectionString);
    const store = getPostgreSQLEventStore(database.connectionString);
    await store.appendToStream('cart-fence', [
      { type: 'ItemAdded', data: { cartId: 'fence', amount: 5 }, metadata: { tenant: 'fenced-tenant' } },
      { type: 'ItemAdded', data: { cartId: 'fence', amount: 7 }, metadata: { tenant: 'fenced-tenant' } },
    ]);
    await store.close();
    const pool = dumbo({ connectionString: database.connectionString });
    try {
      await initProjection(pool, database.connectionString, hashLedger);
      const batch = await readEventBatch(database.db, BeforeFirstPosition, 100);
      const events = batch.events.filter((e) => (e.event as ProjectorEvent<ItemAdded>).metadata.tenant === 'fenced-tenant');
      const scope = { pool, connectionString: database.connectionString, projector: hashLedger, partition: 'fenced-tenant', instanceId: 'test', terminate: () => Promise.resolve() };

      const owner = await applyPartitionBatch({ ...scope, checkpoint: null }, events.slice(0, 1));
      expect(owner).toMatchObject({ ok: true, applied: 1 });
      const stale = await applyPartitionBatch({ ...scope, checkpoint: null }, events);
      expect(stale).toEqual({ ok: false, reason: 'MISMATCH' });
      const behind = await applyPartitionBatch({ ...scope, checkpoint: null }, events.slice(0, 1));
      expect(behind.ok).toBe(false);

      const { rows } = await database.db.query("SELECT total::text AS total, items FROM ledger_totals WHERE tenant = 'fenced-tenant'");
      expect(rows).toEqual([{ total: '5', items: 1 }]);
    } finally {
      await pool.close();
    }
  });

  it('never applies an event twice when two engines run against one database', async () => {
    await appendLedgerEvents(database.connectionString, { tenants: 15, carts: 20, events: 4000, seed: 5, tenantName: (i) => `dual-${i}` });
    // Different lease groups: both engines are active readers at once, only the checkpoint fences them.
    const engines = ['a', 'b'].map((group) =>
      projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger, lease: { group }, hostId: `host-${group}` }),
    );
    await Promise.all(engines.map((engine) => engine.start()));
    try {
      const expected = await foldFromStore(database.db);
      await waitUntil('the read model equals the fold', async () => {
        const actual = await readModelTotals(database.db, 'ledger-hash');
        return [...expected].every(([key, value]) => actual.get(key)?.items === value.items);
      }, 60_000, 200);
      expect(await readModelTotals(database.db, 'ledger-hash')).toEqual(expected);
      expect(await fifoViolations(database.db, 'ledger-hash')).toEqual([]);
      const { rows } = await database.db.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM ledger_audit WHERE projector = 'ledger-hash' AND tenant LIKE 'dual-%'",
      );
      expect(Number(rows[0]!.n)).toBe(4000);
      expect(engines.every((engine) => engine.status().role === 'active')).toBe(true);
    } finally {
      await Promise.all(engines.map((engine) => engine.stop()));
    }
  });

  it('keeps a second engine as standby and lets it take over when the active one dies', async () => {
    // Long enough a lease that a loaded machine renews it in time; the wait outlasts it, so only renewals keep it.
    const LeaseMs = 3000;
    const active = startChildEngine(database.connectionString, projectors, { group: 'takeover', leaseMs: LeaseMs });
    await active.active;
    const standby = projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger, lease: { group: 'takeover', timeoutMs: LeaseMs } });
    await standby.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, LeaseMs + 1000));
      expect(standby.status().role).toBe('standby');
      active.process.kill('SIGKILL');
      await active.exited;
      const killedAt = Date.now();
      await standby.whenActive({ timeoutMs: 15_000 });
      expect(Date.now() - killedAt).toBeLessThan(LeaseMs + 2000);
      await appendLedgerEvents(database.connectionString, { tenants: 5, carts: 5, events: 300, seed: 9, tenantName: (i) => `after-takeover-${i}` });
      await standby.whenCaughtUp({ timeoutMs: 30_000 });
      expect(await readModelTotals(database.db, 'ledger-hash')).toEqual(await foldFromStore(database.db));
    } finally {
      await standby.stop();
    }
  });
});
