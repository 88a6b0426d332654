import { ledgerProjector } from './ledgerProjector.ts';

export const slowLedger = ledgerProjector('ledger-slow', { placement: { type: 'hash', workers: 2 }, batchSize: 20 });
