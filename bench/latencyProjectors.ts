import { postgreSQLProjection } from '@event-driven-io/emmett-postgresql';
import type { Event } from '@event-driven-io/emmett';
import { partitionedProjector } from 'distributary';

export type Pinged = Event<'Pinged', { appendedAt: number }, { tenant: string }>;

/** Records, per event, when it was appended and when it was applied. */
export const latencyProjector = partitionedProjector<Pinged>({
  processorId: 'latency',
  projection: postgreSQLProjection<Pinged>({
    name: 'latency',
    canHandle: ['Pinged'],
    init: async ({ context }) => {
      await context.connection.client.query(
        'CREATE TABLE IF NOT EXISTS bench_latency (position BIGINT PRIMARY KEY, appended_at DOUBLE PRECISION NOT NULL, applied_at DOUBLE PRECISION NOT NULL)',
      );
    },
    handle: async (events, context) => {
      const now = Date.now();
      await context.connection.client.query(
        'INSERT INTO bench_latency SELECT * FROM unnest($1::bigint[], $2::double precision[], $3::double precision[])',
        [events.map((e) => e.metadata.globalPosition.toString()), events.map((e) => e.data.appendedAt), events.map(() => now)],
      );
    },
  }),
  partitionBy: (event) => event.metadata.tenant,
  placement: { type: 'hash', workers: 2 },
  batchSize: 100,
});
