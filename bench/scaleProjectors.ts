import { partitionedProjector } from '../src/index.ts';
import { cartsSummaryBatchProjection, type ShopEvent } from '../projections/index.ts';

// Three projectors over the same events, each keeping its own cart documents with the batch-aware projection.
const projector = (name: string) =>
  partitionedProjector<ShopEvent>({
    processorId: `scale-${name}`,
    projection: cartsSummaryBatchProjection(`scale_${name}`),
    partitionBy: (event) => event.metadata.tenant,
    concurrency: 4,
    batchSize: 500,
  });

export const scaleCarts = projector('carts');
export const scaleAudit = process.env.BENCH_PROJECTORS === '1' ? undefined : projector('audit');
export const scaleTotals = process.env.BENCH_PROJECTORS === '1' ? undefined : projector('totals');
