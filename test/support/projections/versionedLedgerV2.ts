export { ledgerV2 } from './versionedLedgers.ts';
