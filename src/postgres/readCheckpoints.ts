import type pg from 'pg';

/** Every stored checkpoint of one processor, by partition key. */
export const readCheckpoints = async (
  db: pg.Pool | pg.PoolClient,
  processorId: string,
  version: number,
): Promise<Map<string, bigint>> => {
  const { rows } = await db.query<{ partition: string; last_processed_checkpoint: string }>(
    'SELECT partition, last_processed_checkpoint FROM emt_processors WHERE processor_id = $1 AND version = $2',
    [processorId, version],
  );
  return new Map(rows.map((row) => [row.partition, BigInt(row.last_processed_checkpoint)]));
};
