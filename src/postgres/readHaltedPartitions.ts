import type pg from 'pg';

/** Partitions of a projector that wait in front of a dead letter. */
export const readHaltedPartitions = async (db: pg.Pool, processorId: string): Promise<Set<string>> => {
  const { rows } = await db.query<{ partition: string }>(
    `SELECT DISTINCT partition FROM distributary_dead_letters
      WHERE status = 'halted' AND processor_id = $1 AND partition IS NOT NULL`,
    [processorId],
  );
  return new Set(rows.map((row) => row.partition));
};
