const Mask64 = (1n << 64n) - 1n;
const FnvOffset = 0xcbf29ce484222325n;
const FnvPrime = 0x100000001b3n;
const encoder = new TextEncoder();

/** 64-bit FNV-1a of the key's UTF-8 bytes: stable across processes and versions. */
export const hash64 = (key: string): bigint => {
  let hash = FnvOffset;
  for (const byte of encoder.encode(key)) {
    hash ^= BigInt(byte);
    hash = (hash * FnvPrime) & Mask64;
  }
  return hash;
};

/**
 * Lamping & Veach's jump consistent hash: maps a key to one of `buckets` so that
 * growing from n to n+1 buckets moves only about 1/(n+1) of the keys.
 */
export const jumpHash = (key: bigint, buckets: number): number => {
  let k = key & Mask64;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & Mask64;
    j = Math.floor(((b + 1) * 2 ** 31) / (Number(k >> 33n) + 1));
  }
  return b;
};

export const bucketFor = (partitionKey: string, buckets: number): number => jumpHash(hash64(partitionKey), buckets);
