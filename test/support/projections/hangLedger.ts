import { ledgerProjector } from './ledgerProjector.ts';

export const hangLedger = ledgerProjector('ledger-hang', { placement: { type: 'hash', workers: 2 }, batchSize: 20, retries: 0, then: 'skip', batchTimeoutMs: 500 });
