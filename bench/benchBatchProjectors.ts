import { partitionedProjector } from '../src/index.ts';
import { cartsSummaryBatchProjection, cartsSummaryCollection, type ShopEvent } from '../projections/index.ts';

/** The same cart documents through the batch-aware projection (one read, one write per partition batch). */
export const benchCartsSummaryBatch = partitionedProjector<ShopEvent>({
  processorId: 'bench-carts-summary-batch',
  projection: cartsSummaryBatchProjection(cartsSummaryCollection),
  partitionBy: (event) => event.metadata.tenant,
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 4),
  batchSize: 500,
});
