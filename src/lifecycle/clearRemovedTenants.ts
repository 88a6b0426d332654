import type { Dumbo } from '@event-driven-io/dumbo';
import { transactionToPostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import type pg from 'pg';
import type { Logger } from '../core/logger.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { readRemovedTenants } from '../postgres/readRemovedTenants.ts';

/**
 * For each tenant removed and not cleaned up yet, in one transaction (hosts take turns on the row):
 * with `purge`, its read-model rows through each projector's `truncatePartition` (a projector without
 * one keeps its rows, and the tenant records why); then its checkpoints, leases, weights, dead letters,
 * status and rebuilds. Called once no thread applies the tenant's events any more (a new reader
 * session, or partitions handed back over JetStream): a commit still in flight finds no lease.
 */
export const clearRemovedTenants = async (context: Context): Promise<void> => {
  for (const tenant of await readRemovedTenants(context.db)) {
    if (tenant.removedAt !== null || tenant.restoring) continue;
    try {
      await clearOne(context, tenant.partition, tenant.purge);
      context.logger.info(`tenant '${tenant.partition}' removed`, { partition: tenant.partition, purged: tenant.purge });
    } catch (error) {
      // Recorded, tried again next time; the other tenants and the engine go on.
      await context.db.query('UPDATE distributary_removed_tenants SET error = $2 WHERE partition = $1', [tenant.partition, `could not clean up: ${(error as Error).message}`]).catch(() => undefined);
      context.logger.warn(`tenant '${tenant.partition}': could not clean up after it: ${(error as Error).message}`, { partition: tenant.partition });
    }
  }
};

type Context = { pool: Dumbo; db: pg.Pool; connectionString: string; projectors: readonly AnyPartitionedProjector[]; logger: Logger };

const clearOne = async (context: Context, partition: string, purge: boolean): Promise<void> =>
  context.pool.withTransaction(async (transaction) => {
    const handlerContext = await transactionToPostgreSQLProjectionHandlerContext(context.connectionString, context.pool, transaction);
    const client = handlerContext.connection.client as pg.PoolClient;
    const locked = await client.query('SELECT 1 FROM distributary_removed_tenants WHERE partition = $1 AND removed_at IS NULL FOR UPDATE SKIP LOCKED', [partition]);
    if (locked.rowCount !== 1) return;
    const key = [partition];
    // Leases and checkpoints first: a commit still in flight elsewhere either finishes before these
    // deletes (its rows are then purged below) or finds them gone and is fenced.
    await client.query('DELETE FROM distributary_partition_owners WHERE partition = ANY($1::text[])', [key]);
    await client.query("DELETE FROM emt_processors WHERE partition = ANY($1::text[]) AND partition <> 'emt:default' AND processor_id NOT LIKE 'distributary:%'", [key]);
    const kept: string[] = [];
    if (purge)
      for (const projector of context.projectors) {
        if (projector.truncatePartition === undefined) kept.push(projector.processorId);
        else await projector.truncatePartition(partition, handlerContext);
      }
    for (const table of ['distributary_partition_weights', 'distributary_dead_letters', 'distributary_partition_status', 'distributary_rebuilds'])
      await client.query(`DELETE FROM ${table} WHERE partition = ANY($1::text[])`, [key]);
    await client.query('UPDATE distributary_removed_tenants SET removed_at = clock_timestamp(), error = $2 WHERE partition = $1', [
      partition,
      kept.length === 0 ? null : `read-model rows kept by ${kept.join(', ')} (no truncatePartition)`,
    ]);
  });
