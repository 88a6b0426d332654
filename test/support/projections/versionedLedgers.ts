import { partitionedProjector } from '../../../src/index.ts';
import { ledgerProjection, type ItemAdded } from './ledger.ts';

/** Two versions of one projector, side by side: each writes its own read model (the ledger rows of its projection name). */
export const ledgerV1 = partitionedProjector<ItemAdded>({
  processorId: 'ledger-versioned',
  projection: ledgerProjection('ledger-versioned'),
  partitionBy: (event) => event.metadata.tenant as string,
  batchSize: 50,
});

export const ledgerV2 = partitionedProjector<ItemAdded>({
  processorId: 'ledger-versioned',
  version: 2,
  projection: ledgerProjection('ledger-versioned_v2'),
  partitionBy: (event) => event.metadata.tenant as string,
  batchSize: 50,
});
