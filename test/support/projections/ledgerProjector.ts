import { partitionedProjector, type Placement } from '../../../src/index.js';
import { ledgerProjection, type ItemAdded } from './ledger.js';

/** A ledger projector keyed by whatever `metadata.tenant` holds, bad values included. */
export const ledgerProjector = (processorId: string, placement: Placement, batchSize: number, retries = 1) =>
  partitionedProjector<ItemAdded>({
    processorId,
    projection: ledgerProjection(processorId),
    partitionBy: (event) => event.metadata.tenant as string,
    placement,
    batchSize,
    onError: { retries, backoff: { initialMs: 10, maxMs: 50 } },
  });
