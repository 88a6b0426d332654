import type pg from 'pg';

export type RebuildRow = {
  id: string;
  processorId: string;
  partition: string | null;
  status: 'requested' | 'running' | 'done' | 'failed';
  requestedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  through: bigint | null;
  replayed: number;
  error: string | null;
};

/** Rebuilds of the given projectors (all when none are named), open ones only when `open`; newest first. */
export const readRebuilds = async (db: pg.Pool | pg.ClientBase, filter: { processorIds?: readonly string[]; open?: boolean; id?: string }): Promise<RebuildRow[]> => {
  const { rows } = await db.query<{
    id: string; processor_id: string; partition: string | null; status: RebuildRow['status']; requested_at: Date; started_at: Date | null;
    finished_at: Date | null; through: string | null; replayed: string; error: string | null;
  }>(
    `SELECT id::text, processor_id, partition, status, requested_at, started_at, finished_at, through::text, replayed::text, error
       FROM distributary_rebuilds
      WHERE ($1::text[] IS NULL OR processor_id = ANY($1::text[])) AND (NOT $2 OR status IN ('requested', 'running')) AND ($3::bigint IS NULL OR id = $3::bigint)
      ORDER BY id DESC`,
    [filter.processorIds ?? null, filter.open === true, filter.id ?? null],
  );
  return rows.map((row) => ({
    id: row.id,
    processorId: row.processor_id,
    partition: row.partition,
    status: row.status,
    requestedAt: row.requested_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    through: row.through === null ? null : BigInt(row.through),
    replayed: Number(row.replayed),
    error: row.error,
  }));
};
