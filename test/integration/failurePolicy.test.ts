import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { describe, expect, it } from 'vitest';
import { deadLetters, projectionEngine, silentLogger } from '../../src/index.ts';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals, type Totals } from '../support/workload.ts';

const projectors = new URL('../support/projections/policyLedgers.ts', import.meta.url);
const tenants = 100;
const only = (totals: Totals, keep: (tenant: string) => boolean): Totals => new Map([...totals].filter(([key]) => keep(key.split('/')[0]!)));

describe('a poisoned event among 100 tenants', () => {
  const database = useTestDatabase();

  it('halts its partition exactly there, or skips it on record, while the other 99 finish; a retry after the fix completes it', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants, carts: 200, events: 2000, seed: 31 });
    const store = getPostgreSQLEventStore(connectionString);
    const { lastEventGlobalPosition: poisonedAt } = await store.appendToStream('cart-poison', [
      { type: 'ItemAdded', data: { cartId: 'poisoned', amount: 1000, poison: true }, metadata: { tenant: 'tenant-37' } },
    ]);
    await store.close();
    await appendLedgerEvents(connectionString, { tenants, carts: 200, events: 2000, seed: 32 });

    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, reader: { markIntervalMs: 200 } });
    const operations = deadLetters({ connectionString });
    await engine.start();
    try {
      const caughtUp = await engine.whenCaughtUp({ timeoutMs: 60_000 });
      expect(caughtUp.stopped).toEqual([{ processorId: 'ledger-halt', partition: 'tenant-37', state: 'halted' }]);

      const withoutPoison = await foldFromStore(db);
      const others = (tenant: string) => tenant !== 'tenant-37';
      expect(only(await readModelTotals(db, 'ledger-halt'), others)).toEqual(only(withoutPoison, others));
      expect(await readModelTotals(db, 'ledger-skip')).toEqual(withoutPoison);
      expect(await fifoViolations(db, 'ledger-halt')).toEqual([]);

      const { rows: before } = await db.query<{ position: string }>(
        "SELECT max(position)::text AS position FROM ledger_audit WHERE projector = 'ledger-halt' AND tenant = 'tenant-37'",
      );
      const { rows: expectedBefore } = await db.query<{ position: string }>(
        `SELECT max(global_position)::text AS position FROM emt_messages WHERE message_metadata->>'tenant' = 'tenant-37' AND global_position < $1`,
        [poisonedAt.toString()],
      );
      expect(before[0]!.position).toBe(expectedBefore[0]!.position);
      const halted = engine.status().projectors.find((p) => p.processorId === 'ledger-halt')!.partitions.find((p) => p.partition === 'tenant-37')!;
      expect(halted).toMatchObject({ state: 'halted', checkpoint: BigInt(expectedBefore[0]!.position) });

      const letters = (await operations.list({ partition: 'tenant-37' })).sort((a, b) => a.processorId.localeCompare(b.processorId));
      expect(letters.map((l) => [l.processorId, l.globalPosition, l.decision, l.status, l.errorMessage])).toEqual([
        ['ledger-halt', poisonedAt, 'halted', 'halted', 'poisoned item in cart poisoned'],
        ['ledger-skip', poisonedAt, 'skipped', 'skipped', 'poisoned item in cart poisoned'],
      ]);
      expect(letters.every((l) => l.attempts >= 2 && l.firstFailedAt <= l.lastFailedAt)).toBe(true);

      await db.query("INSERT INTO ledger_fixes VALUES ('ledger-halt'), ('ledger-skip')");
      expect(await operations.retry({ processorId: 'ledger-halt', partition: 'tenant-37' })).toBe(1);
      expect(await operations.retry({ id: letters[1]!.id })).toBe(1);
      await waitUntil('both dead letters are resolved', async () => (await operations.list({ status: 'resolved' })).length === 2, 30_000, 100);
      const resumed = await engine.whenCaughtUp({ timeoutMs: 30_000 });
      expect(resumed.stopped).toEqual([]);
      const withPoison = await foldFromStore(db, { includePoison: true });
      expect(await readModelTotals(db, 'ledger-halt')).toEqual(withPoison);
      expect(await readModelTotals(db, 'ledger-skip')).toEqual(withPoison);
      expect(await fifoViolations(db, 'ledger-halt')).toEqual([]);
    } finally {
      await engine.stop();
      await operations.close();
    }
  });

  it('resumes a halted partition after its dead letter is discarded, without the event', async () => {
    const { connectionString, db } = database;
    const store = getPostgreSQLEventStore(connectionString);
    await store.appendToStream('cart-discard', [
      { type: 'ItemAdded', data: { cartId: 'discard-1', amount: 1 }, metadata: { tenant: 'discard-tenant' } },
      { type: 'ItemAdded', data: { cartId: 'discard-2', amount: 2, poison: true }, metadata: { tenant: 'discard-tenant' } },
      { type: 'ItemAdded', data: { cartId: 'discard-3', amount: 3 }, metadata: { tenant: 'discard-tenant' } },
    ]);
    await store.close();
    await db.query("DELETE FROM ledger_fixes WHERE projector = 'ledger-halt'");
    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, reader: { markIntervalMs: 200 } });
    const operations = deadLetters({ connectionString });
    await engine.start();
    try {
      expect((await engine.whenCaughtUp({ timeoutMs: 30_000 })).stopped).toEqual([{ processorId: 'ledger-halt', partition: 'discard-tenant', state: 'halted' }]);
      const [letter] = await operations.list({ processorId: 'ledger-halt', partition: 'discard-tenant' });
      await expect(operations.discard({ id: letter!.id, reason: '' })).rejects.toThrow('discarding a dead letter needs a reason');
      expect(runCli(connectionString, 'dead-letters', 'list', '--status', 'halted')).toContain('poisoned item in cart discard-2');
      expect(runCli(connectionString, 'dead-letters', 'discard', '--id', letter!.id, '--reason', 'duplicate order, refunded by hand')).toBe(
        `dead letter ${letter!.id} discarded\n`,
      );
      await waitUntil('the partition resumes', async () => (await db.query("SELECT 1 FROM ledger_totals WHERE projector = 'ledger-halt' AND cart_id = 'discard-3'")).rowCount === 1, 30_000, 100);
      const { rows } = await db.query<{ cart_id: string }>("SELECT cart_id FROM ledger_totals WHERE projector = 'ledger-halt' AND tenant = 'discard-tenant' ORDER BY 1");
      expect(rows.map((r) => r.cart_id)).toEqual(['discard-1', 'discard-3']);
      expect((await operations.list({ partition: 'discard-tenant', processorId: 'ledger-halt' }))[0]).toMatchObject({ status: 'discarded', discardReason: 'duplicate order, refunded by hand' });
    } finally {
      await engine.stop();
      await operations.close();
    }
  });
});
