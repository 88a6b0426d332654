import { postgreSQLProjection } from '@event-driven-io/emmett-postgresql';
import type { Event } from '@event-driven-io/emmett';
import pg from 'pg';
import type { ProjectorEvent } from '../../../src/index.ts';

/** Records the crash outside the transaction (which dies with the thread); true only the first time. */
const firstCrash = async (connectionString: string, projector: string, position: string): Promise<boolean> => {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const inserted = await client.query('INSERT INTO ledger_crashes VALUES ($1, $2) ON CONFLICT DO NOTHING', [projector, position]);
    return inserted.rowCount === 1;
  } finally {
    await client.end();
  }
};

export type ItemAdded = Event<
  'ItemAdded',
  { cartId: string; amount: number; poison?: boolean; hang?: boolean; crash?: boolean; delayMs?: number },
  { tenant?: unknown }
>;
export type Unrelated = Event<'Unrelated', { note: string }, { tenant?: unknown }>;
export type LedgerEvent = ItemAdded | Unrelated;

/**
 * A test read model: running totals per cart, plus an audit row per applied (projector, partition,
 * position) with a unique constraint, so applying an event twice fails loudly; the row names the
 * lease owner and epoch the commit held, when hosts share partitions.
 * Takes `delayMs` over an event that asks for it. Misbehaves on marked events until a row in `ledger_fixes` says the projection was fixed: throws
 * on `poison`, never returns on `hang`; `crash` ends the worker thread, once per event.
 */
export const ledgerProjection = (name: string) =>
  postgreSQLProjection<ItemAdded>({
    name,
    canHandle: ['ItemAdded'],
    init: async ({ context }) => {
      await context.connection.client.query(`
        CREATE TABLE IF NOT EXISTS ledger_totals (
          projector TEXT NOT NULL, tenant TEXT NOT NULL, cart_id TEXT NOT NULL,
          total BIGINT NOT NULL, items INT NOT NULL, last_position BIGINT NOT NULL,
          PRIMARY KEY (projector, tenant, cart_id));
        CREATE TABLE IF NOT EXISTS ledger_audit (
          id BIGSERIAL PRIMARY KEY, projector TEXT NOT NULL, tenant TEXT NOT NULL, position BIGINT NOT NULL,
          owner TEXT, epoch BIGINT, committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
          UNIQUE (projector, tenant, position));
        CREATE TABLE IF NOT EXISTS ledger_fixes (projector TEXT PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS ledger_crashes (projector TEXT NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (projector, position));`);
    },
    truncate: async (context) => {
      await context.connection.client.query('DELETE FROM ledger_totals WHERE projector = $1', [name]);
      await context.connection.client.query('DELETE FROM ledger_audit WHERE projector = $1', [name]);
    },
    handle: async (events, context) => {
      const client = context.connection.client;
      for (const event of events as ProjectorEvent<ItemAdded>[]) {
        const tenant = String(event.metadata.tenant);
        const position = event.metadata.globalPosition.toString();
        if (event.data.poison === true || event.data.hang === true) {
          const fixed = await client.query('SELECT 1 FROM ledger_fixes WHERE projector = $1', [name]);
          if (fixed.rowCount === 0 && event.data.poison === true) throw new Error(`poisoned item in cart ${event.data.cartId}`);
          if (fixed.rowCount === 0) await new Promise(() => undefined);
        }
        if (event.data.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, event.data.delayMs));
        if (event.data.crash === true && (await firstCrash(context.connection.connectionString, name, position))) process.exit(1);
        // With hosts sharing partitions, the lease the commit holds (its row is locked by the commit).
        await client.query(
          `INSERT INTO ledger_audit (projector, tenant, position, owner, epoch)
           SELECT $1, $2, $3, o.owner, o.epoch FROM (SELECT 1) one
             LEFT JOIN distributary_partition_owners o ON o.processor_id = $1 AND o.partition = $2`,
          [name, tenant, position],
        );
        await client.query(
          `INSERT INTO ledger_totals (projector, tenant, cart_id, total, items, last_position) VALUES ($1, $2, $3, $4, 1, $5)
           ON CONFLICT (projector, tenant, cart_id) DO UPDATE SET total = ledger_totals.total + EXCLUDED.total,
             items = ledger_totals.items + 1, last_position = EXCLUDED.last_position`,
          [name, tenant, event.data.cartId, event.data.amount, position],
        );
      }
    },
  });
