import type pg from 'pg';

/** Highest global position in the event store's default partition, or 0 when it is empty. */
export const readLastGlobalPosition = async (db: pg.Pool): Promise<bigint> => {
  const { rows } = await db.query<{ position: string | null }>(
    "SELECT max(global_position)::text AS position FROM emt_messages WHERE partition = 'emt:default' AND is_archived = FALSE",
  );
  return BigInt(rows[0]?.position ?? 0);
};
