import { partitionedProjector } from '../src/index.ts';
import { cartsSummaryProjection, type ShopEvent } from '../projections/index.ts';

/** The demo's Pongo cart projection, unchanged, with the default placement over the engine's threads. */
export const benchCartsSummary = partitionedProjector<ShopEvent>({
  processorId: 'bench-carts-summary',
  projection: cartsSummaryProjection,
  partitionBy: (event) => event.metadata.tenant,
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 4),
  batchSize: 500,
});
