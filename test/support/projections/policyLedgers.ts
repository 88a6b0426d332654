import { ledgerProjector } from './ledgerProjector.ts';

/** The same ledger under both failure policies, over the same events. */
export const haltLedger = ledgerProjector('ledger-halt', { placement: { type: 'hash', workers: 2 }, batchSize: 40, retries: 1, then: 'halt' });
export const skipLedger = ledgerProjector('ledger-skip', { placement: { type: 'hash', workers: 2 }, batchSize: 40, retries: 1, then: 'skip' });
