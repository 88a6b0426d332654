import { partitionedProjector } from '../../../src/index.ts';
import { ledgerProjection, type ItemAdded } from './ledger.ts';

/** The ledger under the processor id an Emmett projector ran it with, without saying how to take it over. */
export const adoptedLedger = partitionedProjector<ItemAdded>({
  processorId: 'ledger-emmett',
  projection: ledgerProjection('ledger-emmett'),
  partitionBy: (event) => event.metadata.tenant as string,
});
