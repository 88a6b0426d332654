import type pg from 'pg';

export type DeadLetterTarget = { id: string } | { processorId: string; partition: string };

/**
 * Asks engines to apply dead letters again: a halted partition resumes from its dead letter, in
 * order; a skipped event is applied on its own, out of order. Returns how many letters were marked.
 */
export const retryDeadLetters = async (db: pg.Pool | pg.ClientBase, target: DeadLetterTarget): Promise<number> => {
  const { rowCount } = await db.query(
    `UPDATE distributary_dead_letters SET status = 'retry'
      WHERE status IN ('halted', 'skipped')
        AND ${'id' in target ? 'id = $1::bigint' : 'processor_id = $1 AND partition = $2'}`,
    'id' in target ? [target.id] : [target.processorId, target.partition],
  );
  return rowCount ?? 0;
};
