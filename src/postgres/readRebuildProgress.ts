import { marksOfProcessorSql } from './markIds.ts';
import type pg from 'pg';
import type { RebuildRow } from './readRebuilds.ts';
import { storedPositionSql } from './storedPositionSql.ts';

export type RebuildProgressRow = {
  id: string;
  processor_id: string;
  partition: string | null;
  status: RebuildRow['status'];
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  through: string | null;
  replayed: string;
  error: string | null;
  /** While running: the rebuilt partition's checkpoint, or for a whole projector its lowest low-water mark (global positions); null before the first commit. */
  position: string | null;
  /** While running: the global position of the store's first event in delivery order, where every replay begins. */
  first: string | null;
};

const checkpoint = storedPositionSql('c');

/**
 * Rebuilds with what it takes to say how far each running one is: open ones, and finished ones when
 * `finishedWithinSeconds` is not set or they finished within it; newest first, at most `limit`.
 * The rebuild's reset deletes the checkpoint (or the marks) it reads, so a running rebuild's
 * position counts only what it replayed.
 */
export const readRebuildProgress = async (
  db: pg.Pool | pg.ClientBase,
  filter: { processorId?: string; finishedWithinSeconds?: number; limit?: number },
): Promise<RebuildProgressRow[]> => {
  const { rows } = await db.query<RebuildProgressRow>(
    `SELECT r.id::text, r.processor_id, r.partition, r.status, r.requested_at, r.started_at, r.finished_at, r.through::text, r.replayed::text, r.error,
            (CASE WHEN r.status <> 'running' THEN NULL
                  WHEN r.partition IS NOT NULL THEN
                    (SELECT max(${checkpoint.global}) FROM emt_processors c WHERE c.processor_id = r.processor_id AND c.partition = r.partition)
                  ELSE
                    (SELECT min(${checkpoint.global}) FROM emt_processors c
                      WHERE c.partition = 'emt:default' AND ${marksOfProcessorSql('c.processor_id', 'r.processor_id')})
             END)::text AS position,
            (CASE WHEN r.status = 'running' THEN
                    (SELECT m.global_position FROM emt_messages m WHERE m.partition = 'emt:default' ORDER BY m.transaction_id, m.global_position LIMIT 1)
             END)::text AS first
       FROM distributary_rebuilds r
      WHERE ($1::text IS NULL OR r.processor_id = $1)
        AND ($2::float8 IS NULL OR r.status IN ('requested', 'running') OR r.finished_at > clock_timestamp() - $2::float8 * interval '1 second')
      ORDER BY r.id DESC
      LIMIT $3::int`,
    [filter.processorId ?? null, filter.finishedWithinSeconds ?? null, filter.limit ?? null],
  );
  return rows;
};
