import type pg from 'pg';

/** Asks engines to bring a removed tenant back (they rebuild its partitions); false when it is not removed. */
export const markTenantRestoring = async (db: pg.Pool, partition: string): Promise<boolean> => {
  const { rowCount } = await db.query('UPDATE distributary_removed_tenants SET restoring = true, error = NULL WHERE partition = $1', [partition]);
  return rowCount === 1;
};
