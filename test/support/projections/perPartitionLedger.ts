import { ledgerProjector } from './ledgerProjector.ts';

export const perPartitionLedger = ledgerProjector('ledger-per-partition', { placement: { type: 'per-partition', maxThreads: 6 }, batchSize: 20 });
