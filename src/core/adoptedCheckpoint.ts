import { isCovered, type Position } from './position.ts';

/**
 * What the checkpoint of an Emmett processor that distributary took over covers: by global position
 * alone (Emmett 0.42 read in global order), or by (transaction, position) where the checkpoint names
 * its transaction (newer Emmett). Those events were applied by Emmett and are never applied again.
 */
export type AdoptedCheckpoint = { transaction: bigint | null; global: bigint };

export const isAdopted = (adopted: AdoptedCheckpoint | undefined, position: Position): boolean =>
  adopted !== undefined && (adopted.transaction === null ? position.global <= adopted.global : isCovered(position, { tx: adopted.transaction, global: adopted.global }));
