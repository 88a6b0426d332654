import { describe, expect, it } from 'vitest';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { projectionEngine, silentLogger, type ProjectionEngine } from '../../src/index.ts';
import type { ItemAdded } from '../support/projections/ledger.ts';
import { useTestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents, foldFromStore, readModelTotals, type Totals } from '../support/workload.ts';

const projectors = new URL('../support/projections/slowLedger.ts', import.meta.url);
const Cap = 50;
const SlowEvents = 300;

const only = (totals: Totals, slow: boolean): Totals => new Map([...totals].filter(([key]) => key.startsWith('slow/') === slow));
const items = (totals: Totals): number => [...totals.values()].reduce((sum, cart) => sum + cart.items, 0);

describe('backpressure', () => {
  const database = useTestDatabase();

  it('buffers at most its cap for a slow partition, reads its events again as it works them off, and holds the mark before them', async () => {
    const { connectionString, db } = database;
    const store = getPostgreSQLEventStore(connectionString);
    for (let i = 0; i < SlowEvents / 20; i++) {
      const events: ItemAdded[] = Array.from({ length: 20 }, (_, n) => ({
        type: 'ItemAdded',
        data: { cartId: `cart-${n % 3}`, amount: i + n, delayMs: 40 },
        metadata: { tenant: 'slow' },
      }));
      await store.appendToStream(`cart-slow-${i}`, events);
    }
    await store.close();
    await appendLedgerEvents(connectionString, { tenants: 10, carts: 20, events: 3000, seed: 31 });
    const fold = await foldFromStore(db);
    const engine = (): ProjectionEngine =>
      projectionEngine({ connectionString, projectors, logger: silentLogger, reader: { maxPartitionPending: Cap, markIntervalMs: 100 } });

    const first = engine();
    await first.start();
    let mostQueued = 0;
    try {
      // Every other tenant is done long before the slow one, whose buffer never holds more than the cap.
      await waitUntil('the other tenants equal the fold', async () => {
        const queued = (await first.schedulerSnapshot()).flatMap((thread) => thread.partitions).find((p) => p.partition === 'slow')?.queued ?? 0;
        mostQueued = Math.max(mostQueued, queued);
        return items(only(await readModelTotals(db, 'ledger-slow'), false)) === items(only(fold, false));
      }, 60_000, 20);
      expect(only(await readModelTotals(db, 'ledger-slow'), false)).toEqual(only(fold, false));
      const slowDone = items(only(await readModelTotals(db, 'ledger-slow'), true));
      expect(slowDone).toBeLessThan(SlowEvents / 2);
      expect(first.status().projectors[0]!.partitions.find((p) => p.partition === 'slow')?.lag ?? 0).toBeLessThanOrEqual(Cap);
      // Let the stored mark catch up with the reader as far as the slow partition allows, then stop mid-way.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await first.stop();
    }
    expect(mostQueued).toBeGreaterThan(0);
    expect(mostQueued).toBeLessThanOrEqual(Cap);
    expect(items(only(await readModelTotals(db, 'ledger-slow'), true))).toBeLessThan(SlowEvents);

    // A restart reads from the stored mark: the slow partition's unread events were not passed by it.
    const second = engine();
    await second.start();
    try {
      await second.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await second.stop();
    }
    expect(await readModelTotals(db, 'ledger-slow')).toEqual(fold);
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM ledger_audit WHERE projector = 'ledger-slow'");
    expect(rows[0]!.n).toBe(SlowEvents + 3000);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM distributary_dead_letters')).rows[0]!.n).toBe(0);
  });
});
