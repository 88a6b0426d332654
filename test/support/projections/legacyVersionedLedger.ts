import { partitionedProjector } from '../../../src/index.ts';
import { ledgerProjection, type ItemAdded } from './ledger.ts';

/** A projector declared at version 2 from its start (before versions ran under ids of their own). */
export const legacyLedger = partitionedProjector<ItemAdded>({
  processorId: 'ledger-legacy',
  version: 2,
  projection: ledgerProjection('ledger-legacy'),
  partitionBy: (event) => event.metadata.tenant as string,
});
