import { DistributaryError } from './errors.ts';
import type { Position } from './position.ts';

/**
 * How Emmett writes `emt_processors.last_processed_checkpoint`:
 * - `'position'` (0.42): the global position zero-padded to 19 digits; the transaction sits in
 *   `last_processed_transaction_id` beside it.
 * - `'transaction:position'` (0.43 on): `<transaction id zero-padded to 20>:<global position zero-padded to 19>`.
 *   Upgrading Emmett rewrites existing rows to it, prefixing the old text with the transaction.
 */
export type CheckpointFormat = 'position' | 'transaction:position';

/** A stored checkpoint that is in neither format. */
export class CheckpointFormatError extends DistributaryError {}

const digits = /^\d{1,20}$/;

/**
 * The position a stored checkpoint names, in either format. `txColumn` is the row's
 * `last_processed_transaction_id`: the position-only format needs it; the other carries its own.
 */
export const parseCheckpoint = (text: string, txColumn?: string | bigint | null): Position => {
  const colon = text.indexOf(':');
  if (colon >= 0) {
    const tx = text.slice(0, colon);
    const global = text.slice(colon + 1);
    if (digits.test(tx) && digits.test(global)) return { tx: BigInt(tx), global: BigInt(global) };
  } else if (digits.test(text)) {
    if (txColumn === undefined || txColumn === null || txColumn === '')
      throw new CheckpointFormatError(`stored checkpoint '${text}' names no transaction, and none is stored beside it`);
    return { tx: BigInt(txColumn), global: BigInt(text) };
  }
  throw new CheckpointFormatError(`stored checkpoint '${text}' is neither a global position nor '<transaction>:<global position>'`);
};

/** The text Emmett writes in `format` for `position`. */
export const formatCheckpoint = (position: Position, format: CheckpointFormat): string => {
  const global = position.global.toString().padStart(19, '0');
  return format === 'position' ? global : `${position.tx.toString().padStart(20, '0')}:${global}`;
};
