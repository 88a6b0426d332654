import type pg from 'pg';
import { BeforeFirstPosition, type Position } from '../core/position.ts';

/** The last committed event in delivery order, or the start when the store is empty. */
export const readLastPosition = async (db: pg.Pool): Promise<Position> => {
  const { rows } = await db.query<{ tx: string; global: string }>(
    `SELECT transaction_id::text AS tx, global_position::text AS global FROM emt_messages
      WHERE partition = 'emt:default' AND is_archived = FALSE
      ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
  );
  const row = rows[0];
  return row === undefined ? BeforeFirstPosition : { tx: BigInt(row.tx), global: BigInt(row.global) };
};
