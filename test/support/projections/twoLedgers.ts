export { hashLedger } from './hashLedger.js';
export { perPartitionLedger } from './perPartitionLedger.js';
