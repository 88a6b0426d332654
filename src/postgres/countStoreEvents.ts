import type pg from 'pg';

/** Events of the store (Emmett's default partition, not archived) with a global position in `(after, upTo]`. */
export const countStoreEvents = async (db: pg.Pool, range: { after: bigint; upTo: bigint }): Promise<number> => {
  if (range.upTo <= range.after) return 0;
  const { rows } = await db.query<{ count: string }>(
    `SELECT count(*)::text AS count FROM emt_messages
      WHERE partition = 'emt:default' AND is_archived = FALSE AND global_position > $1 AND global_position <= $2`,
    [range.after.toString(), range.upTo.toString()],
  );
  return Number(rows[0]?.count ?? 0);
};
