import { partitionedProjector } from '../../../src/index.js';
import { ledgerProjection, type ItemAdded } from './ledger.js';

/** Takes whatever `metadata.tenant` holds as the key, to feed the engine bad keys. */
export const rawKeyLedger = partitionedProjector<ItemAdded>({
  processorId: 'ledger-raw-key',
  projection: ledgerProjection('ledger-raw-key'),
  partitionBy: (event) => event.metadata.tenant as string,
  placement: { type: 'hash', workers: 2 },
  batchSize: 100,
  onError: { retries: 2, backoff: { initialMs: 10, maxMs: 40 } },
});
