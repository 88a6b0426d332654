import { partitionedProjector } from '../../../src/index.ts';
import { ledgerProjection, type ItemAdded } from './ledger.ts';

/** The ledger with the way to delete one tenant's rows, so one partition can be rebuilt. */
export const rebuildableLedger = partitionedProjector<ItemAdded>({
  processorId: 'ledger-rebuild',
  projection: ledgerProjection('ledger-rebuild'),
  partitionBy: (event) => event.metadata.tenant as string,
  batchSize: 100,
  truncatePartition: async (partition, context) => {
    await context.connection.client.query("DELETE FROM ledger_totals WHERE projector = 'ledger-rebuild' AND tenant = $1", [partition]);
    await context.connection.client.query("DELETE FROM ledger_audit WHERE projector = 'ledger-rebuild' AND tenant = $1", [partition]);
  },
});

/** The same ledger without it: only rebuilt whole. */
export const wholeOnlyLedger = partitionedProjector<ItemAdded>({
  processorId: 'ledger-whole',
  projection: ledgerProjection('ledger-whole'),
  partitionBy: (event) => event.metadata.tenant as string,
});
