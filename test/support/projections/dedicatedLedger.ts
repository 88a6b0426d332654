import { ledgerProjector } from './ledgerProjector.ts';

export const dedicatedLedger = ledgerProjector('ledger-dedicated', { placement: { type: 'dedicated', partitions: ['big-co', 'huge-co'] }, batchSize: 20 });
