import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { projectionEngine, silentLogger } from '../../src/index.ts';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.ts';

const projectors = new URL('../support/projections/rawKeyLedger.ts', import.meta.url);

type DeadLetterRow = { partition: string | null; global_position: string; error_message: string; message_type: string; payload: { data: unknown } };

describe('bad input', () => {
  const database = useTestDatabase();

  it('dead-letters bad keys and a throwing event with a clear error while every other partition completes', async () => {
    await appendLedgerEvents(database.connectionString, { tenants: 8, carts: 10, events: 1500, seed: 21, tenantName: (i) => `good-${i}` });
    const store = getPostgreSQLEventStore(database.connectionString);
    const item = (cartId: string, tenant: unknown, poison = false) => ({
      type: 'ItemAdded' as const,
      data: { cartId, amount: 1, ...(poison ? { poison } : {}) },
      metadata: tenant === undefined ? {} : { tenant },
    });
    await store.appendToStream('bad-no-key', [item('no-key', undefined)]);
    await store.appendToStream('bad-number', [item('number', 42)]);
    await store.appendToStream('bad-empty', [item('empty', '')]);
    await store.appendToStream('bad-long', [item('long', 'x'.repeat(10_000))]);
    await store.appendToStream('poisoned', [item('before', 'good-1'), item('poison', 'good-1', true), item('after', 'good-1')]);
    await store.close();
    await appendLedgerEvents(database.connectionString, { tenants: 8, carts: 10, events: 500, seed: 22, tenantName: (i) => `good-${i}` });

    const engine = projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await engine.stop();
    }

    expect(await readModelTotals(database.db, 'ledger-raw-key')).toEqual(await foldFromStore(database.db));
    expect(await fifoViolations(database.db, 'ledger-raw-key')).toEqual([]);
    const { rows } = await database.db.query<DeadLetterRow>(
      'SELECT partition, global_position::text, error_message, message_type, payload FROM distributary_dead_letters ORDER BY global_position',
    );
    expect(rows.map((r) => [r.partition, r.error_message])).toEqual([
      [null, 'partitionBy returned undefined: the event has no partition key'],
      [null, 'partitionBy must return a string, got number 42'],
      [null, 'partitionBy returned an empty string'],
      [null, 'partition key is 10000 bytes long; at most 512 are allowed'],
      ['good-1', 'poisoned item in cart poison'],
    ]);
    expect(rows.every((r) => r.message_type === 'ItemAdded')).toBe(true);
    expect(rows[4]!.payload.data).toEqual({ cartId: 'poison', amount: 1, poison: true });
    const after = await database.db.query("SELECT 1 FROM ledger_totals WHERE tenant = 'good-1' AND cart_id = 'after'");
    expect(after.rowCount).toBe(1);

    const cli = (...args: string[]): string => runCli(database.connectionString, ...args);
    const listed = cli('dead-letters', 'list', '--partition', 'good-1');
    expect(listed).toContain('poisoned item in cart poison');
    expect(listed.trim().split('\n')).toHaveLength(2);
    expect(cli('status', '--projector', 'ledger-raw-key')).toMatch(/ledger-raw-key\s+good-1\s+\d+/);
  });

  it('applies the events of keys made of wildcards, dots, quotes, control characters and any unicode each to a partition of its own', async () => {
    const unit = fc.constantFrom('.', '*', '>', ' ', '\t', '\n', "'", '"', ';', '\\', '/', '_', '=', 'A', 'a', 'é', '\u{1F600}', '\u202E', '\uFEFF', '\u0001');
    const keys = [...new Set(fc.sample(fc.oneof(fc.string({ unit, minLength: 1, maxLength: 30 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 })), { numRuns: 40, seed: 14 }))];
    const store = getPostgreSQLEventStore(database.connectionString);
    for (const [i, tenant] of keys.entries())
      await store.appendToStream(`hostile-${i}`, [1, 2, 3].map((amount) => ({ type: 'ItemAdded' as const, data: { cartId: `c${i}`, amount }, metadata: { tenant } })));
    await store.close();
    const engine = projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      const partitions = new Set(engine.status().projectors[0]!.partitions.map((p) => p.partition));
      for (const key of keys) expect(partitions.has(key), JSON.stringify(key)).toBe(true);
    } finally {
      await engine.stop();
    }
    const totals = await readModelTotals(database.db, 'ledger-raw-key');
    expect(totals).toEqual(await foldFromStore(database.db));
    for (const [i, key] of keys.entries()) expect(totals.get(`${key}/c${i}`), JSON.stringify(key)).toEqual({ total: 6, items: 3 });
  });
});
