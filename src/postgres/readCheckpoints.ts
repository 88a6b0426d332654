import type pg from 'pg';
import type { Position } from '../core/position.js';

/** Every stored checkpoint of one processor, by partition key. */
export const readCheckpoints = async (db: pg.Pool | pg.ClientBase, processorId: string, version: number): Promise<Map<string, Position>> => {
  const { rows } = await db.query<{ partition: string; global: string; tx: string }>(
    `SELECT partition, last_processed_checkpoint AS global, last_processed_transaction_id::text AS tx
       FROM emt_processors WHERE processor_id = $1 AND version = $2`,
    [processorId, version],
  );
  return new Map(rows.map((row) => [row.partition, { tx: BigInt(row.tx), global: BigInt(row.global) }]));
};
