import { partitionedProjector, type FailurePolicy, type Placement } from '../../../src/index.ts';
import { ledgerProjection, type ItemAdded } from './ledger.ts';

export type LedgerProjectorOptions = { placement: Placement; batchSize: number; retries?: number; then?: FailurePolicy; batchTimeoutMs?: number };

/** A ledger projector keyed by whatever `metadata.tenant` holds, bad values included. */
export const ledgerProjector = (processorId: string, options: LedgerProjectorOptions) =>
  partitionedProjector<ItemAdded>({
    processorId,
    projection: ledgerProjection(processorId),
    partitionBy: (event) => event.metadata.tenant as string,
    placement: options.placement,
    batchSize: options.batchSize,
    onError: { retries: options.retries ?? 1, backoff: { initialMs: 10, maxMs: 50 }, then: options.then ?? 'halt', batchTimeoutMs: options.batchTimeoutMs },
  });
