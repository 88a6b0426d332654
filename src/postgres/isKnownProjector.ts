import { marksOfProcessorSql } from './markIds.ts';
import type pg from 'pg';

/**
 * Whether a projector ran against this database: a host wrote status for one of its partitions, or
 * it has checkpoints or low-water marks. What operators name for a rebuild is checked against it, so
 * that a typo is refused instead of waiting for a host that will never come.
 */
export const isKnownProjector = async (db: pg.Pool, processorId: string): Promise<boolean> => {
  const { rows } = await db.query<{ known: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM distributary_partition_status WHERE processor_id = $1)
         OR EXISTS (SELECT 1 FROM emt_processors WHERE processor_id = $1)
         OR EXISTS (SELECT 1 FROM emt_processors WHERE ${marksOfProcessorSql('processor_id', '$1')}) AS known`,
    [processorId],
  );
  return rows[0]?.known === true;
};
