import { ledgerProjector } from './ledgerProjector.ts';

export const hashLedger = ledgerProjector('ledger-hash', { placement: { type: 'hash', workers: 3 }, batchSize: 50 });
