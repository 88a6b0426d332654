import { createHash } from 'node:crypto';

/*
 * Partition keys are arbitrary strings; NATS subject tokens and stream names are not (no '.', '*',
 * '>', whitespace or '/', and stream names become directory names, so bounded and safe on
 * case-insensitive file systems). One encoding maps every key to a token:
 *   - [a-z0-9-] stay as they are; every other byte of the key's UTF-8 becomes `_` and two hex digits
 *     (so `_` is `_5f`, `A` is `_41`): injective and reversible.
 *   - A token longer than MaxTokenLength becomes `=` and a base32 SHA-256 of the key instead: `=` never
 *     appears in the escaped form, so the two forms cannot collide; the tenant registry maps it back.
 */

export const MaxTokenLength = 160;
const HashedPrefix = '=';
const tenantSafe = /[a-z0-9-]/;
const subjectSafe = /[A-Za-z0-9-]/;
const encoder = new TextEncoder();
// ignoreBOM: a key that starts with U+FEFF keeps it (the default decoder drops it).
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const base32 = 'abcdefghijklmnopqrstuvwxyz234567';

const escape = (value: string, safe: RegExp): string => {
  let out = '';
  for (const char of value) {
    if (safe.test(char)) out += char;
    else for (const byte of encoder.encode(char)) out += `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
};

const hashed = (key: string): string => {
  const digest = createHash('sha256').update(key, 'utf8').digest();
  let bits = 0;
  let value = 0;
  let out = HashedPrefix;
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += base32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
};

/** The token of a partition key in subjects (`{app}.tenants.{token}.{type}`) and stream names. */
export const tenantToken = (key: string): string => {
  const escaped = escape(key, tenantSafe);
  return escaped.length <= MaxTokenLength ? escaped : hashed(key);
};

/** The key of a token, or undefined for a hashed token (look it up in the tenant registry). */
export const tenantOfToken = (token: string): string | undefined => {
  if (token.startsWith(HashedPrefix)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; ) {
    if (token[i] === '_') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(token.charCodeAt(i));
      i++;
    }
  }
  return decoder.decode(new Uint8Array(bytes));
};

/** An event type as a subject token: letters of either case, digits and '-' stay, the rest is escaped. */
export const subjectToken = (value: string): string => escape(value, subjectSafe);

/**
 * A processor id as a durable consumer name: its subject token, or `=` and a base32 SHA-256 of the id
 * when that is longer than MaxTokenLength (consumer names become directory names; `=` never appears in
 * the escaped form, so the two cannot collide).
 */
export const durableName = (processorId: string): string => {
  const escaped = subjectToken(processorId);
  return escaped.length <= MaxTokenLength ? escaped : hashed(processorId);
};
