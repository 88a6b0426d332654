import type pg from 'pg';
import type { Logger } from '../core/logger.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';

/**
 * Tenants asked to come back: each of the engine's projectors gets a rebuild of the tenant's partition
 * (its rows reset, its events replayed from the start: never a replay over rows that were kept), and
 * the tombstone goes, in one transaction. Runs where the rebuilds then start (a new reader session).
 */
export const restoreTenants = async (db: pg.Pool, projectors: readonly AnyPartitionedProjector[], logger: Logger): Promise<void> => {
  const client = await db.connect();
  try {
    const { rows } = await client.query<{ partition: string }>('SELECT partition FROM distributary_removed_tenants WHERE restoring');
    const cannot = projectors.filter((projector) => projector.truncatePartition === undefined).map((projector) => projector.processorId);
    for (const { partition } of rows) {
      if (cannot.length > 0) {
        // Its partitions could only be replayed over whatever rows they kept: refused, saying why.
        const reason = `cannot restore: ${cannot.join(', ')} cannot rebuild one partition (no truncatePartition); rebuild those projectors whole after restoring elsewhere, or give them truncatePartition`;
        await client.query('UPDATE distributary_removed_tenants SET restoring = false, error = $2 WHERE partition = $1', [partition, reason]);
        logger.warn(`tenant '${partition}' ${reason}`, { partition });
        continue;
      }
      await client.query('BEGIN');
      const deleted = await client.query('DELETE FROM distributary_removed_tenants WHERE partition = $1 AND restoring', [partition]);
      if (deleted.rowCount === 1)
        for (const projector of projectors)
          await client.query("INSERT INTO distributary_rebuilds (processor_id, partition, status) VALUES ($1, $2, 'requested')", [projector.processorId, partition]);
      await client.query('COMMIT');
      if (deleted.rowCount === 1) logger.info(`tenant '${partition}' restored: rebuilding its partitions from its events`, { partition });
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
};
