import { ledgerProjector } from './ledgerProjector.js';

export const hashLedger = ledgerProjector('ledger-hash', { type: 'hash', workers: 3 }, 50);
