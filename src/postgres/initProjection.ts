import type { Dumbo } from '@event-driven-io/dumbo';
import { transactionToPostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { MigrationLockId } from './migrate.ts';

/**
 * Runs a projection's own `init` (Pongo collections create their tables, Emmett registers the
 * projection) once, on the engine's thread, before any worker applies events: threads never race
 * to create the same table, and hosts take turns.
 */
export const initProjection = async (pool: Dumbo, connectionString: string, projector: AnyPartitionedProjector): Promise<void> => {
  const { init } = projector.projection;
  if (init === undefined) return;
  await pool.withTransaction(async (transaction) => {
    const context = await transactionToPostgreSQLProjectionHandlerContext(connectionString, pool, transaction);
    // Hosts starting together run it one after the other.
    await context.connection.client.query('SELECT pg_advisory_xact_lock($1)', [MigrationLockId]);
    await init({ version: projector.projection.version ?? projector.version, status: 'active', registrationType: 'async', context });
  });
};
