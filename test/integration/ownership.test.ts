import { dumbo } from '@event-driven-io/dumbo';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { describe, expect, it } from 'vitest';
import { migrate, projectionEngine, silentLogger } from '../../src/index.ts';
import { applyPartitionBatch, applyPartitionGroup } from '../../src/postgres/applyPartitionBatch.ts';
import { initProjection } from '../../src/postgres/initProjection.ts';
import { readEventBatch } from '../../src/postgres/readEventBatch.ts';
import { BeforeFirstPosition } from '../../src/core/position.ts';
import { startChildEngine } from '../support/childEngine.ts';
import { useTestDatabase } from '../support/database.ts';
import { hashLedger } from '../support/projections/hashLedger.ts';
import type { ItemAdded } from '../support/projections/ledger.ts';
import type { ProjectorEvent } from '../../src/index.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.ts';

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

  it('commits partitions that share a transaction only when every checkpoint moves', async () => {
    await migrate(database.connectionString);
    const store = getPostgreSQLEventStore(database.connectionString);
    for (const tenant of ['group-a', 'group-b', 'group-c'])
      await store.appendToStream(`cart-${tenant}`, [
        { type: 'ItemAdded', data: { cartId: tenant, amount: 1 }, metadata: { tenant } },
        { type: 'ItemAdded', data: { cartId: tenant, amount: 10 }, metadata: { tenant } },
      ]);
    await store.close();
    const pool = dumbo({ connectionString: database.connectionString });
    try {
      await initProjection(pool, database.connectionString, hashLedger);
      const batch = await readEventBatch(database.db, BeforeFirstPosition, 1000);
      const of = (tenant: string) => batch.events.filter((e) => (e.event as ProjectorEvent<ItemAdded>).metadata.tenant === tenant);
      const scope = (partition: string, checkpoint: (typeof batch.events)[number]['position'] | null) => ({
        pool, connectionString: database.connectionString, projector: hashLedger, partition, checkpoint, instanceId: 'test', terminate: () => Promise.resolve(),
      });
      const [a, b, c] = [of('group-a'), of('group-b'), of('group-c')];
      await applyPartitionBatch(scope('group-a', null), a.slice(0, 1));
      await applyPartitionBatch(scope('group-c', null), c.slice(0, 1));
      const totals = async () =>
        (await database.db.query<{ tenant: string; total: string }>("SELECT tenant, total::text AS total FROM ledger_totals WHERE tenant LIKE 'group-%' ORDER BY tenant")).rows;
      const checkpoints = async () =>
        (await database.db.query<{ partition: string; checkpoint: string }>(
          "SELECT partition, ltrim(last_processed_checkpoint, '0') AS checkpoint FROM emt_processors WHERE partition LIKE 'group-%' ORDER BY partition",
        )).rows;
      const before = { totals: await totals(), checkpoints: await checkpoints() };

      // group-c believes nothing is stored: the group writes nothing, not even the other two.
      const refused = await applyPartitionGroup([
        { scope: scope('group-a', a[0]!.position), items: a },
        { scope: scope('group-b', null), items: b },
        { scope: scope('group-c', null), items: c },
      ]);
      expect(refused).toBeUndefined();
      expect({ totals: await totals(), checkpoints: await checkpoints() }).toEqual(before);
      expect(before.totals).toEqual([{ tenant: 'group-a', total: '1' }, { tenant: 'group-c', total: '1' }]);

      // An update (a), an insert (b) and a batch the checkpoint already covers in part (c): all commit together.
      const committed = await applyPartitionGroup([
        { scope: scope('group-a', a[0]!.position), items: a },
        { scope: scope('group-b', null), items: b },
        { scope: scope('group-c', c[0]!.position), items: c },
      ]);
      expect(committed).toEqual([
        { ok: true, checkpoint: a[1]!.position, applied: 1 },
        { ok: true, checkpoint: b[1]!.position, applied: 2 },
        { ok: true, checkpoint: c[1]!.position, applied: 1 },
      ]);
      expect(await totals()).toEqual([
        { tenant: 'group-a', total: '11' },
        { tenant: 'group-b', total: '11' },
        { tenant: 'group-c', total: '11' },
      ]);
      expect(await checkpoints()).toEqual([a, b, c].map((events, i) => ({ partition: `group-${'abc'[i]}`, checkpoint: events[1]!.position.global.toString() })));
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
