import { partitionedProjector } from '../../../src/index.js';
import { ledgerProjection, type ItemAdded } from './ledger.js';

export const perPartitionLedger = partitionedProjector<ItemAdded>({
  processorId: 'ledger-per-partition',
  projection: ledgerProjection('ledger-per-partition'),
  partitionBy: (event) => event.metadata.tenant as string,
  placement: { type: 'per-partition', maxThreads: 6 },
  batchSize: 20,
});
