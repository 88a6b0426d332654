import { ledgerProjector } from './ledgerProjector.ts';

export const rawKeyLedger = ledgerProjector('ledger-raw-key', { placement: { type: 'hash', workers: 2 }, batchSize: 100, retries: 2, then: 'skip' });
