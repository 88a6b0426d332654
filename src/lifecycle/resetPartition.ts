import type { Dumbo } from '@event-driven-io/dumbo';
import { transactionToPostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import type pg from 'pg';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';

/**
 * In one transaction, fenced on the partition lease `lease` (over JetStream; none in-process): claims
 * the requested rebuild, deletes the partition's read-model rows (`truncatePartition`) and its
 * checkpoint. False when the lease is no longer this host's or the rebuild was claimed by another.
 */
export const resetPartition = async (context: {
  pool: Dumbo;
  connectionString: string;
  projector: AnyPartitionedProjector;
  partition: string;
  rebuildId: string;
  lease?: { owner: string; epoch: number };
  /** Where the replay ends (over JetStream, the tenant stream's last message); the store's head when not given. */
  through?: bigint;
}): Promise<boolean> => {
  const { projector, partition, lease } = context;
  return context.pool.withTransaction(async (transaction) => {
    const handlerContext = await transactionToPostgreSQLProjectionHandlerContext(context.connectionString, context.pool, transaction);
    const client = handlerContext.connection.client as pg.PoolClient;
    if (lease !== undefined) {
      const held = await client.query(
        'SELECT 1 FROM distributary_partition_owners WHERE processor_id = $1 AND partition = $2 AND owner = $3 AND epoch = $4 FOR UPDATE',
        [projector.processorId, partition, lease.owner, lease.epoch],
      );
      if (held.rowCount !== 1) return false;
    }
    const claimed = await client.query(
      `UPDATE distributary_rebuilds SET status = 'running', started_at = clock_timestamp(),
              through = COALESCE($2::bigint, (SELECT max(global_position) FROM emt_messages WHERE partition = 'emt:default'))
        WHERE id = $1::bigint AND status = 'requested'`,
      [context.rebuildId, context.through?.toString() ?? null],
    );
    if (claimed.rowCount !== 1) return false;
    await projector.truncatePartition!(partition, handlerContext);
    await client.query('DELETE FROM emt_processors WHERE processor_id = $1 AND partition = $2', [projector.processorId, partition]);
    return true;
  });
};
