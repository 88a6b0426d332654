import { postgreSQLProjection } from '@event-driven-io/emmett-postgresql';
import type { Event } from '@event-driven-io/emmett';
import { partitionedProjector } from 'distributary';

export type Pinged = Event<'Pinged', { appendedAt: number }, { tenant: string }>;

/** Records per event its tenant, when it was appended and when it was applied; one thread (two transactions at a time; the weights run uses one), so tenants compete for it. */
export const fairProjector = partitionedProjector<Pinged>({
  processorId: 'fair',
  projection: postgreSQLProjection<Pinged>({
    name: 'fair',
    canHandle: ['Pinged'],
    init: async ({ context }) => {
      await context.connection.client.query(
        'CREATE TABLE IF NOT EXISTS bench_fair (position BIGINT PRIMARY KEY, tenant TEXT NOT NULL, appended_at DOUBLE PRECISION NOT NULL, applied_at DOUBLE PRECISION NOT NULL)',
      );
    },
    handle: async (events, context) => {
      const now = Date.now();
      await context.connection.client.query('INSERT INTO bench_fair SELECT * FROM unnest($1::bigint[], $2::text[], $3::double precision[], $4::double precision[])', [
        events.map((e) => e.metadata.globalPosition.toString()),
        events.map((e) => e.metadata.tenant),
        events.map((e) => e.data.appendedAt),
        events.map(() => now),
      ]);
      // A fixed cost per batch, as a read model with a round trip or two more would have.
      await context.connection.client.query('SELECT pg_sleep(0.002)');
    },
  }),
  partitionBy: (event) => event.metadata.tenant,
  placement: { type: 'hash', workers: 1 },
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 2),
  batchSize: 100,
});
