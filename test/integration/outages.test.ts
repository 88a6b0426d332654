import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { describe, expect, it } from 'vitest';
import { deadLetters, projectionEngine, silentLogger } from '../../src/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { restartPostgres } from '../support/restartPostgres.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.ts';

const projection = (name: string): URL => new URL(`../support/projections/${name}.ts`, import.meta.url);
const applied = async (db: import('pg').Pool, projector: string): Promise<number> =>
  Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_audit WHERE projector = $1', [projector])).rows[0]!.n);

describe('outages', () => {
  const database = useTestDatabase();

  it('loses and doubles nothing when PostgreSQL restarts in the middle of a run', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: 40, carts: 40, events: 6000, seed: 41 });
    const engine = projectionEngine({ connectionString, projectors: projection('hashLedger'), logger: silentLogger, lease: { timeoutMs: 5000 } });
    await engine.start();
    try {
      await waitUntil('a fifth of the events are applied', async () => (await applied(db, 'ledger-hash')) > 1200, 60_000, 5);
      expect(await applied(db, 'ledger-hash')).toBeLessThan(6000);
      await restartPostgres(connectionString);
      await appendLedgerEvents(connectionString, { tenants: 40, carts: 40, events: 1000, seed: 42 });
      await engine.whenCaughtUp({ timeoutMs: 90_000 });
    } finally {
      await engine.stop();
    }
    expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
    expect(await fifoViolations(db, 'ledger-hash')).toEqual([]);
    const operations = deadLetters({ connectionString });
    expect(await operations.list({ processorId: 'ledger-hash' })).toEqual([]);
    await operations.close();
  });

  it('restarts a worker thread that dies and resumes its partitions from their checkpoints', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: 10, carts: 10, events: 500, seed: 43, tenantName: (i) => `crash-${i}` });
    const store = getPostgreSQLEventStore(connectionString);
    await store.appendToStream('cart-crash', [{ type: 'ItemAdded', data: { cartId: 'crash', amount: 5, crash: true }, metadata: { tenant: 'crash-3' } }]);
    await store.close();
    await appendLedgerEvents(connectionString, { tenants: 10, carts: 10, events: 500, seed: 44, tenantName: (i) => `crash-${i}` });
    const engine = projectionEngine({ connectionString, projectors: projection('crashLedger'), logger: silentLogger });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await engine.stop();
    }
    expect((await db.query("SELECT 1 FROM ledger_crashes WHERE projector = 'ledger-crash'")).rowCount).toBe(1);
    expect(await readModelTotals(db, 'ledger-crash')).toEqual(await foldFromStore(db));
    expect(await fifoViolations(db, 'ledger-crash')).toEqual([]);
  });

  it('cuts off a projection that never returns, dead-letters its event and keeps every other partition going', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: 6, carts: 10, events: 400, seed: 45, tenantName: (i) => `hang-${i}` });
    const store = getPostgreSQLEventStore(connectionString);
    await store.appendToStream('cart-hang', [{ type: 'ItemAdded', data: { cartId: 'hang', amount: 5, hang: true }, metadata: { tenant: 'hang-2' } }]);
    await store.close();
    await appendLedgerEvents(connectionString, { tenants: 6, carts: 10, events: 400, seed: 46, tenantName: (i) => `hang-${i}` });
    const engine = projectionEngine({ connectionString, projectors: projection('hangLedger'), logger: silentLogger });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await engine.stop();
    }
    const operations = deadLetters({ connectionString });
    const letters = await operations.list({ processorId: 'ledger-hang' });
    await operations.close();
    expect(letters.map((l) => [l.partition, l.status])).toEqual([['hang-2', 'skipped']]);
    expect(letters[0]!.errorMessage).toBe('ledger-hang/hang-2: batch still running after 500 ms; its transaction was terminated');
    const expected = new Map([...(await foldFromStore(db))].filter(([key]) => key !== 'hang-2/hang'));
    expect(await readModelTotals(db, 'ledger-hang')).toEqual(expected);
  });
});
