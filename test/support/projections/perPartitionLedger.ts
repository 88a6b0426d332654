import { ledgerProjector } from './ledgerProjector.js';

export const perPartitionLedger = ledgerProjector('ledger-per-partition', { type: 'per-partition', maxThreads: 6 }, 20);
