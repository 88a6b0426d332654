import type pg from 'pg';
import { parseCheckpoint } from '../core/checkpointFormat.ts';
import type { Position } from '../core/position.ts';

/** The stored checkpoints of one processor (of the given partitions only, when named), by partition key; in either of Emmett's formats. */
export const readCheckpoints = async (
  db: pg.Pool | pg.ClientBase,
  processorId: string,
  version: number,
  partitions?: readonly string[],
): Promise<Map<string, Position>> => {
  const { rows } = await db.query<{ partition: string; checkpoint: string; tx: string }>(
    `SELECT partition, last_processed_checkpoint AS checkpoint, last_processed_transaction_id::text AS tx
       FROM emt_processors WHERE processor_id = $1 AND version = $2 AND ($3::text[] IS NULL OR partition = ANY($3::text[]))`,
    [processorId, version, partitions ?? null],
  );
  return new Map(rows.map((row) => [row.partition, parseCheckpoint(row.checkpoint, row.tx)]));
};
