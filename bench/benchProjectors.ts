import { partitionedProjector } from '../src/index.ts';
import { cartsSummaryProjection, type ShopEvent } from '../projections/index.ts';

/** The demo's Pongo cart projection, unchanged, with hash placement sized by BENCH_WORKERS. */
export const benchCartsSummary = partitionedProjector<ShopEvent>({
  processorId: 'bench-carts-summary',
  projection: cartsSummaryProjection,
  partitionBy: (event) => event.metadata.tenant,
  placement: { type: 'hash', workers: Number(process.env.BENCH_WORKERS ?? 4) },
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 4),
  batchSize: 500,
});
