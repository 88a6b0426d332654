import { postgreSQLProjection } from '@event-driven-io/emmett-postgresql';
import type { Event } from '@event-driven-io/emmett';
import type { ProjectorEvent } from '../../../src/index.js';

export type ItemAdded = Event<'ItemAdded', { cartId: string; amount: number; poison?: boolean }, { tenant?: unknown }>;
export type Unrelated = Event<'Unrelated', { note: string }, { tenant?: unknown }>;
export type LedgerEvent = ItemAdded | Unrelated;

/**
 * A test read model: running totals per cart, plus an audit row per applied (projector, partition,
 * position) with a unique constraint, so applying an event twice fails loudly.
 * Throws on events marked `poison` to exercise dead letters.
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
          UNIQUE (projector, tenant, position));`);
    },
    handle: async (events, context) => {
      const client = context.connection.client;
      for (const event of events as ProjectorEvent<ItemAdded>[]) {
        if (event.data.poison === true) throw new Error(`poisoned item in cart ${event.data.cartId}`);
        const tenant = String(event.metadata.tenant);
        const position = event.metadata.globalPosition.toString();
        await client.query('INSERT INTO ledger_audit (projector, tenant, position) VALUES ($1, $2, $3)', [name, tenant, position]);
        await client.query(
          `INSERT INTO ledger_totals (projector, tenant, cart_id, total, items, last_position) VALUES ($1, $2, $3, $4, 1, $5)
           ON CONFLICT (projector, tenant, cart_id) DO UPDATE SET total = ledger_totals.total + EXCLUDED.total,
             items = ledger_totals.items + 1, last_position = EXCLUDED.last_position`,
          [name, tenant, event.data.cartId, event.data.amount, position],
        );
      }
    },
  });
