import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { migrate, projectionEngine, silentLogger } from '../../src/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/waitUntil.ts';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);

const insertItem = (client: pg.ClientBase, stream: string, tenant: string, amount: number) =>
  client.query<{ global_position: string }>(
    `INSERT INTO emt_messages (stream_position, transaction_id, stream_id, message_schema_version, message_id, message_type, message_data, message_metadata)
     VALUES (1, pg_current_xact_id(), $1, '1', gen_random_uuid()::text, 'ItemAdded', $2::jsonb, $3::jsonb) RETURNING global_position::text`,
    [stream, JSON.stringify({ cartId: stream, amount }), JSON.stringify({ tenant })],
  );

describe('delivery order', () => {
  const database = useTestDatabase();
  beforeAll(async () => migrate(database.connectionString));

  it('applies an event whose transaction commits after a higher global position was already applied', async () => {
    const engine = projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger });
    await engine.start();
    const early = await database.db.connect();
    const late = await database.db.connect();
    try {
      await engine.whenActive();
      // `early` gets the older transaction id, `late` takes the lower global position but commits last.
      await early.query('BEGIN');
      await early.query('SELECT pg_current_xact_id()');
      await late.query('BEGIN');
      const lowPosition = (await insertItem(late, 'late-cart', 'same-tenant', 1)).rows[0]!.global_position;
      const highPosition = (await insertItem(early, 'early-cart', 'same-tenant', 10)).rows[0]!.global_position;
      expect(BigInt(lowPosition)).toBeLessThan(BigInt(highPosition));
      await early.query('COMMIT');
      await waitUntil('the early transaction is applied', async () => (await database.db.query("SELECT 1 FROM ledger_totals WHERE cart_id = 'early-cart'")).rowCount === 1, 10_000);
      await late.query('COMMIT');
      await engine.whenCaughtUp({ timeoutMs: 10_000 });
      const { rows } = await database.db.query<{ cart_id: string; total: string }>(
        "SELECT cart_id, total::text FROM ledger_totals WHERE tenant = 'same-tenant' ORDER BY cart_id",
      );
      expect(rows).toEqual([
        { cart_id: 'early-cart', total: '10' },
        { cart_id: 'late-cart', total: '1' },
      ]);
    } finally {
      early.release();
      late.release();
      await engine.stop();
    }
  });
});
