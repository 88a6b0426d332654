import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { describe, expect, it } from 'vitest';
import { projectionEngine, silentLogger } from '../../src/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/waitUntil.ts';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);

describe('an idle engine', () => {
  const database = useTestDatabase();

  it('wakes on an append and picks up partition keys it has never seen, without restart', async () => {
    // A 10 s fallback poll: only the append notification can make the event visible quickly.
    const engine = projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger, reader: { idlePollMs: 10_000 } });
    await engine.start();
    const store = getPostgreSQLEventStore(database.connectionString);
    try {
      await engine.whenActive();
      await engine.whenCaughtUp();
      const delays: number[] = [];
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const tenant = `new-tenant-${i}`;
        const appendedAt = Date.now();
        await store.appendToStream(`cart-${tenant}`, [{ type: 'ItemAdded', data: { cartId: 'c', amount: 3 }, metadata: { tenant } }]);
        await waitUntil(`${tenant} is projected`, async () => (await database.db.query('SELECT 1 FROM ledger_totals WHERE tenant = $1', [tenant])).rowCount === 1, 5_000, 2);
        delays.push(Date.now() - appendedAt);
      }
      if (process.env.SHOW_DELAYS === "1" || Math.max(...delays) >= 1000) {
        const { rows } = await database.db.query(
          "SELECT datname, pid, state, backend_xid::text, backend_xmin::text, xact_start, left(query, 120) AS query FROM pg_stat_activity WHERE backend_xid IS NOT NULL OR backend_xmin IS NOT NULL",
        );
        console.error('slow wake-up', delays, rows);
      }
      expect(Math.max(...delays)).toBeLessThan(1000);
      expect(engine.status().projectors[0]!.partitions.map((p) => p.partition).sort()).toEqual(
        Array.from({ length: 5 }, (_, i) => `new-tenant-${i}`),
      );
    } finally {
      await store.close();
      await engine.stop();
    }
  });
});
