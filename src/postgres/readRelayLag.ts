import type pg from 'pg';

/** Events of the store after `position`, and the age in seconds of the first of them (0 when none). */
export const readRelayLag = async (db: pg.Pool, position: bigint): Promise<{ events: number; seconds: number }> => {
  const { rows } = await db.query<{ events: string; seconds: number | null }>(
    `SELECT count(*)::text AS events, greatest(0, extract(epoch FROM clock_timestamp() - min(created)))::float8 AS seconds
       FROM emt_messages WHERE partition = 'emt:default' AND is_archived = FALSE AND global_position > $1`,
    [position.toString()],
  );
  return { events: Number(rows[0]!.events), seconds: rows[0]!.seconds ?? 0 };
};
