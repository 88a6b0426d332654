export { ledgerV1 } from './versionedLedgers.ts';
