import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import type { ItemAdded } from './projections/ledger.ts';

export type AppendOptions = {
  tenants: number;
  carts: number;
  events: number;
  seed?: number;
  tenantName?: (i: number) => string;
  /** Appends running at once; a cart's appends always stay in one lane, in order. @default 1 */
  parallel?: number;
};

/** Appends ItemAdded events over tenants and carts (uneven: tenant i gets weight i+1), a few per append. */
export const appendLedgerEvents = async (connectionString: string, options: AppendOptions): Promise<void> => {
  const store = getPostgreSQLEventStore(connectionString);
  const name = options.tenantName ?? ((i: number) => `tenant-${i}`);
  let seed = options.seed ?? 1;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const totalWeight = (options.tenants * (options.tenants + 1)) / 2;
  const lanes: { stream: string; events: ItemAdded[] }[][] = Array.from({ length: options.parallel ?? 1 }, () => []);
  try {
    let appended = 0;
    while (appended < options.events) {
      let pick = random() * totalWeight;
      let tenant = 0;
      while (pick > tenant + 1 && tenant < options.tenants - 1) pick -= ++tenant;
      const cart = Math.floor(random() * options.carts);
      const count = Math.min(options.events - appended, 1 + Math.floor(random() * 5));
      const events: ItemAdded[] = Array.from({ length: count }, () => ({
        type: 'ItemAdded',
        data: { cartId: `cart-${cart}`, amount: 1 + Math.floor(random() * 100) },
        metadata: { tenant: name(tenant) },
      }));
      lanes[(tenant * options.carts + cart) % lanes.length]!.push({ stream: `cart-${name(tenant)}-${cart}`, events });
      appended += count;
    }
    await Promise.all(
      lanes.map(async (lane) => {
        for (const append of lane) await store.appendToStream(append.stream, append.events);
      }),
    );
  } finally {
    await store.close();
  }
};

export type Totals = Map<string, { total: number; items: number }>;

/** The plain fold of every ItemAdded in the store, per tenant and cart. */
export const foldFromStore = async (db: pg.Pool, options: { includePoison?: boolean } = {}): Promise<Totals> => {
  const { rows } = await db.query<{ tenant: string; cart_id: string; total: string; items: string }>(
    `SELECT message_metadata->>'tenant' AS tenant, message_data->>'cartId' AS cart_id,
            sum((message_data->>'amount')::bigint)::text AS total, count(*)::text AS items
       FROM emt_messages WHERE message_type = 'ItemAdded' AND jsonb_typeof(message_metadata->'tenant') = 'string'
        AND octet_length(message_metadata->>'tenant') BETWEEN 1 AND 512
        AND ($1 OR coalesce((message_data->>'poison')::boolean, false) = false)
      GROUP BY 1, 2`,
    [options.includePoison ?? false],
  );
  return new Map(rows.map((r) => [`${r.tenant}/${r.cart_id}`, { total: Number(r.total), items: Number(r.items) }]));
};

export const readModelTotals = async (db: pg.Pool, projector: string): Promise<Totals> => {
  const { rows } = await db.query<{ tenant: string; cart_id: string; total: string; items: number }>(
    'SELECT tenant, cart_id, total::text, items FROM ledger_totals WHERE projector = $1',
    [projector],
  );
  return new Map(rows.map((r) => [`${r.tenant}/${r.cart_id}`, { total: Number(r.total), items: r.items }]));
};

/** Partitions whose audit order (commit order) differs from delivery order (transaction, then global position). */
export const fifoViolations = async (db: pg.Pool, projector: string): Promise<string[]> => {
  const { rows } = await db.query<{ tenant: string }>(
    `SELECT DISTINCT tenant FROM (
       SELECT a.tenant, (m.transaction_id, m.global_position) AS delivered,
              lag((m.transaction_id, m.global_position)) OVER (PARTITION BY a.tenant ORDER BY a.id) AS previous
         FROM ledger_audit a JOIN emt_messages m ON m.global_position = a.position
        WHERE a.projector = $1) ordered
      WHERE previous IS NOT NULL AND previous >= delivered`,
    [projector],
  );
  return rows.map((r) => r.tenant);
};

/** A tenant's events in delivery order (transaction, then global position). */
export const positionsOf = async (db: pg.Pool, tenant: string): Promise<{ tx: bigint; global: bigint }[]> =>
  (
    await db.query<{ tx: string; global: string }>(
      `SELECT transaction_id::text AS tx, global_position::text AS global FROM emt_messages
        WHERE message_metadata->>'tenant' = $1 ORDER BY transaction_id, global_position`,
      [tenant],
    )
  ).rows.map((row) => ({ tx: BigInt(row.tx), global: BigInt(row.global) }));

/** `rounds` rounds of one append per tenant (two events, `amounts`), interleaved; each append is its own transaction. */
export const appendRounds = async (connectionString: string, tenants: string[], rounds: number, amounts: [number, number] = [1, 2]): Promise<void> => {
  const store = getPostgreSQLEventStore(connectionString);
  try {
    for (let round = 0; round < rounds; round++)
      for (const tenant of tenants) {
        const events: ItemAdded[] = amounts.map((amount) => ({ type: 'ItemAdded', data: { cartId: `cart-${tenant}`, amount }, metadata: { tenant } }));
        await store.appendToStream(`cart-${tenant}`, events);
      }
  } finally {
    await store.close();
  }
};
