// Only the ledger that can rebuild one partition: a removed tenant can be restored under it.
export { rebuildableLedger } from './rebuildLedgers.ts';
