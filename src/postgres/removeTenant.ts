import type pg from 'pg';

/** Records a tenant's tombstone (again with `purge` asks for its rows to be deleted too); idempotent. */
export const removeTenant = async (db: pg.Pool, partition: string, purge: boolean): Promise<void> => {
  await db.query(
    `INSERT INTO distributary_removed_tenants (partition, purge) VALUES ($1, $2)
     ON CONFLICT (partition) DO UPDATE SET purge = distributary_removed_tenants.purge OR EXCLUDED.purge, removed_at = NULL, restoring = false
       WHERE (EXCLUDED.purge AND NOT distributary_removed_tenants.purge) OR distributary_removed_tenants.restoring`,
    [partition, purge],
  );
};
