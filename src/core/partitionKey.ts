import { PartitionKeyError } from './errors.ts';

/** Longest partition key accepted, in UTF-8 bytes. Keys become index entries, subject tokens and stream names. */
export const MaxPartitionKeyBytes = 512;

export type PartitionKeyResult = { ok: true; key: string } | { ok: false; error: PartitionKeyError };

const encoder = new TextEncoder();
// A UTF-16 code unit never takes more than 3 UTF-8 bytes, so short keys need no encoding.
const utf8Length = (value: string): number =>
  value.length * 3 <= MaxPartitionKeyBytes ? value.length : encoder.encode(value).length;

const describe = (value: unknown): string => {
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${value}`;
    case 'object':
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
    default:
      return `a ${typeof value}`;
  }
};

/**
 * Runs `partitionBy` on one event and checks what it returned.
 * Never throws: a bad key is an expected outcome that ends in dead letters.
 */
export const resolvePartitionKey = <E>(partitionBy: (event: E) => unknown, event: E): PartitionKeyResult => {
  let value: unknown;
  try {
    value = partitionBy(event);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    return { ok: false, error: new PartitionKeyError(`partitionBy threw: ${message}`, { cause }) };
  }
  if (value === undefined) return { ok: false, error: new PartitionKeyError('partitionBy returned undefined: the event has no partition key') };
  if (typeof value !== 'string') return { ok: false, error: new PartitionKeyError(`partitionBy must return a string, got ${describe(value)}`) };
  if (value.length === 0) return { ok: false, error: new PartitionKeyError('partitionBy returned an empty string') };
  if (value.includes('\u0000')) return { ok: false, error: new PartitionKeyError('partition key contains a NUL character, which PostgreSQL text cannot store') };
  const bytes = utf8Length(value);
  if (bytes > MaxPartitionKeyBytes)
    return { ok: false, error: new PartitionKeyError(`partition key is ${bytes} bytes long; at most ${MaxPartitionKeyBytes} are allowed`) };
  return { ok: true, key: value };
};
