import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { projectionEngine, silentLogger } from '../../src/index.ts';
import { startChildEngine } from '../support/childEngine.ts';
import { useTestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.ts';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);
const auditCount = async (db: pg.Pool): Promise<number> =>
  Number((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM ledger_audit WHERE projector = 'ledger-hash'")).rows[0]!.n);

describe('restarting the engine', () => {
  const database = useTestDatabase();

  it('resumes exactly where it stopped after a graceful stop in the middle of a run', async () => {
    await appendLedgerEvents(database.connectionString, { tenants: 20, carts: 40, events: 6000, seed: 3 });
    const first = projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger });
    await first.start();
    await waitUntil('some events are applied', async () => (await auditCount(database.db)) > 300, 60_000, 5);
    await first.stop();
    const appliedAtStop = await auditCount(database.db);
    expect(appliedAtStop).toBeLessThan(6000);

    const second = projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger });
    await second.start();
    await second.whenCaughtUp({ timeoutMs: 60_000 });
    await second.stop();
    expect(await readModelTotals(database.db, 'ledger-hash')).toEqual(await foldFromStore(database.db));
    expect(await fifoViolations(database.db, 'ledger-hash')).toEqual([]);
  });

  it('loses and doubles nothing when the engine process is killed with SIGKILL mid-run', async () => {
    const appending = appendLedgerEvents(database.connectionString, { tenants: 30, carts: 40, events: 8000, seed: 11 });
    const before = await auditCount(database.db);
    const child = startChildEngine(database.connectionString, projectors, { leaseMs: 2000 });
    await child.active;
    await waitUntil('the child applies events', async () => (await auditCount(database.db)) > before + 500, 60_000, 5);
    child.process.kill('SIGKILL');
    await child.exited;
    await appending;

    const engine = projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger, lease: { timeoutMs: 2000 } });
    await engine.start();
    await engine.whenActive({ timeoutMs: 30_000 });
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
    await engine.stop();
    expect(await readModelTotals(database.db, 'ledger-hash')).toEqual(await foldFromStore(database.db));
    expect(await fifoViolations(database.db, 'ledger-hash')).toEqual([]);
  });
});
