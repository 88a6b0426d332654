export { hashLedger } from './hashLedger.ts';
export { perPartitionLedger } from './perPartitionLedger.ts';
