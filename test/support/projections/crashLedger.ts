import { ledgerProjector } from './ledgerProjector.ts';

export const crashLedger = ledgerProjector('ledger-crash', { placement: { type: 'hash', workers: 2 }, batchSize: 30 });
