import { ledgerProjector } from './ledgerProjector.js';

export const crashLedger = ledgerProjector('ledger-crash', { placement: { type: 'hash', workers: 2 }, batchSize: 30 });
