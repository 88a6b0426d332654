import { postgreSQLProjection } from '@event-driven-io/emmett-postgresql';
import type { Event } from '@event-driven-io/emmett';
import { partitionedProjector, type Placement } from '../src/index.ts';

export type Pinged = Event<'Pinged', { appendedAt: number }, { tenant: string }>;

/**
 * Records per event its position, tenant, when it was appended and when its batch was applied, in
 * `table`; `perBatchCostMs` adds a fixed cost per batch, as a read model with a round trip or two more would have.
 */
export const recordingProjector = (options: { processorId: string; table: string; placement: Placement; concurrency?: number; perBatchCostMs?: number }) =>
  partitionedProjector<Pinged>({
    processorId: options.processorId,
    projection: postgreSQLProjection<Pinged>({
      name: options.processorId,
      canHandle: ['Pinged'],
      init: async ({ context }) => {
        await context.connection.client.query(
          `CREATE TABLE IF NOT EXISTS ${options.table} (position BIGINT PRIMARY KEY, tenant TEXT NOT NULL, appended_at DOUBLE PRECISION NOT NULL, applied_at DOUBLE PRECISION NOT NULL)`,
        );
      },
      handle: async (events, context) => {
        const now = Date.now();
        await context.connection.client.query(`INSERT INTO ${options.table} SELECT * FROM unnest($1::bigint[], $2::text[], $3::double precision[], $4::double precision[])`, [
          events.map((e) => e.metadata.globalPosition.toString()),
          events.map((e) => e.metadata.tenant),
          events.map((e) => e.data.appendedAt),
          events.map(() => now),
        ]);
        if (options.perBatchCostMs !== undefined) await context.connection.client.query('SELECT pg_sleep($1)', [options.perBatchCostMs / 1000]);
      },
    }),
    partitionBy: (event) => event.metadata.tenant,
    placement: options.placement,
    concurrency: options.concurrency,
    batchSize: 100,
  });
