import type pg from 'pg';

/** Asks for a rebuild (of one partition, or of the whole projector when `partition` is null); the host that owns the work carries it out. */
export const requestRebuild = async (db: pg.Pool, request: { processorId: string; partition: string | null }): Promise<string> => {
  const { rows } = await db.query<{ id: string }>(
    "INSERT INTO distributary_rebuilds (processor_id, partition, status) VALUES ($1, $2, 'requested') RETURNING id::text",
    [request.processorId, request.partition],
  );
  return rows[0]!.id;
};
