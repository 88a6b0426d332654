/**
 * Where an event sits in the order events are delivered: by committing transaction, then by global
 * position inside it. Reading in this order below the oldest open transaction never skips an event
 * that commits late, which reading by global position alone can (a transaction that took position
 * 5 may commit after one that took 6 has been read).
 */
export type Position = { readonly tx: bigint; readonly global: bigint };

export const BeforeFirstPosition: Position = { tx: 0n, global: 0n };

export const comparePositions = (a: Position, b: Position): number =>
  a.tx < b.tx ? -1 : a.tx > b.tx ? 1 : a.global < b.global ? -1 : a.global > b.global ? 1 : 0;

/** True when `position` is at or before `checkpoint`: already applied. */
export const isCovered = (position: Position, checkpoint: Position | null): boolean =>
  checkpoint !== null && comparePositions(position, checkpoint) <= 0;
