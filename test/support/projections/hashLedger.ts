import { ledgerProjector } from './ledgerProjector.js';

export const hashLedger = ledgerProjector('ledger-hash', { placement: { type: 'hash', workers: 3 }, batchSize: 50 });
