import { partitionedProjector } from '../../../src/index.js';
import { ledgerProjection, type ItemAdded } from './ledger.js';

export const hashLedger = partitionedProjector<ItemAdded>({
  processorId: 'ledger-hash',
  projection: ledgerProjection('ledger-hash'),
  partitionBy: (event) => event.metadata.tenant as string,
  placement: { type: 'hash', workers: 3 },
  batchSize: 50,
  onError: { retries: 1, backoff: { initialMs: 10, maxMs: 50 } },
});
