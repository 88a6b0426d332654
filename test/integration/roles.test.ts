import { describe, expect, it } from 'vitest';
import { projectionEngine, silentLogger } from '../../src/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { appendLedgerEvents, foldFromStore, readModelTotals } from '../support/workload.ts';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);

describe('engine roles', () => {
  const database = useTestDatabase();

  it('settle when start() resolves, and a standby’s whenCaughtUp resolves once the active engine has stored everything', async () => {
    const { connectionString, db } = database;
    const options = { connectionString, projectors, lease: { group: 'roles', timeoutMs: 30_000 }, logger: silentLogger };
    const active = projectionEngine({ ...options, hostId: 'first' });
    const standby = projectionEngine({ ...options, hostId: 'second' });
    await active.start();
    try {
      expect(active.status().role).toBe('active');
      await standby.start();
      expect(standby.status().role).toBe('standby');
      // On an empty store both are caught up at once.
      await expect(standby.whenCaughtUp({ timeoutMs: 5000 })).resolves.toEqual({ stopped: [] });

      await appendLedgerEvents(connectionString, { tenants: 12, carts: 5, events: 1500, parallel: 3 });
      await standby.whenCaughtUp({ timeoutMs: 60_000 });
      // Nothing was applied on the standby: what it waited for was committed by the active engine.
      expect(standby.status().projectors).toEqual([]);
      expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
    } finally {
      await standby.stop();
      await active.stop();
    }
  });
});
