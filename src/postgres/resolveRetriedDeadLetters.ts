import type pg from 'pg';
import { storedPositionSql } from './storedPositionSql.ts';

const stored = storedPositionSql('p');

/** Marks retried halted dead letters resolved once their partition's checkpoint has passed them. */
export const resolveRetriedDeadLetters = async (db: pg.Pool): Promise<number> => {
  const { rowCount } = await db.query(
    `UPDATE distributary_dead_letters d SET status = 'resolved'
       FROM emt_processors p
      WHERE d.status = 'retry' AND d.decision = 'halted'
        AND p.processor_id = d.processor_id AND p.partition = d.partition
        AND (${stored.tx}, ${stored.global}) >= (d.transaction_id, d.global_position)`,
  );
  return rowCount ?? 0;
};
