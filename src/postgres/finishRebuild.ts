import type pg from 'pg';

/** A running rebuild is done (or failed, with the reason); `replayed` counts the events it applied. */
export const finishRebuild = async (db: pg.Pool, id: string, outcome: { replayed: number; error?: string }): Promise<void> => {
  await db.query(
    "UPDATE distributary_rebuilds SET status = CASE WHEN $3::text IS NULL THEN 'done' ELSE 'failed' END, finished_at = clock_timestamp(), replayed = $2, error = $3 WHERE id = $1::bigint AND status = 'running'",
    [id, outcome.replayed, outcome.error ?? null],
  );
};
