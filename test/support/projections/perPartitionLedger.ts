import { ledgerProjector } from './ledgerProjector.js';

export const perPartitionLedger = ledgerProjector('ledger-per-partition', { placement: { type: 'per-partition', maxThreads: 6 }, batchSize: 20 });
