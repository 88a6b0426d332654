import type pg from 'pg';

export type RemovedTenant = { partition: string; purge: boolean; requestedAt: Date; removedAt: Date | null; restoring: boolean; error: string | null };

/** Every tenant removed (and not restored), cleaned up or not yet. */
export const readRemovedTenants = async (db: pg.Pool | pg.ClientBase): Promise<RemovedTenant[]> => {
  const { rows } = await db.query<{ partition: string; purge: boolean; requested_at: Date; removed_at: Date | null; restoring: boolean; error: string | null }>(
    'SELECT partition, purge, requested_at, removed_at, restoring, error FROM distributary_removed_tenants ORDER BY partition',
  );
  return rows.map((row) => ({ partition: row.partition, purge: row.purge, requestedAt: row.requested_at, removedAt: row.removed_at, restoring: row.restoring, error: row.error }));
};
