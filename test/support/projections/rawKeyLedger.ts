import { ledgerProjector } from './ledgerProjector.js';

export const rawKeyLedger = ledgerProjector('ledger-raw-key', { type: 'hash', workers: 2 }, 100, 2);
