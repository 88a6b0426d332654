import { hash64 } from './jumpHash.ts';

export type WeightedHost = { hostId: string; weight: number };

const TwoTo53 = 2 ** 53;
const Mask64 = (1n << 64n) - 1n;

/** SplitMix64's finalizer: FNV-1a alone leaves keys that differ in their last bytes close together. */
const mix = (value: bigint): bigint => {
  let z = value;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & Mask64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & Mask64;
  return z ^ (z >> 31n);
};

/** A uniform number in (0, 1) from the pair, the same on every host. */
const unit = (key: string, hostId: string): number => (Number(mix(hash64(`${hostId}\u0000${key}`)) >> 11n) + 0.5) / TwoTo53;

/**
 * Weighted rendezvous (highest random weight) hashing: the host with the highest
 * `-weight / ln(u)` owns the key. Every host computes the same answer from the same host list; a host
 * joining takes about 1/N of the keys, and only the keys of a host that leaves move.
 */
export const rendezvousOwner = (key: string, hosts: readonly WeightedHost[]): string | undefined => {
  let best: string | undefined;
  let bestScore = -Infinity;
  for (const { hostId, weight } of hosts) {
    if (!(weight > 0)) continue;
    const score = -weight / Math.log(unit(key, hostId));
    if (score > bestScore || (score === bestScore && best !== undefined && hostId < best)) {
      best = hostId;
      bestScore = score;
    }
  }
  return best;
};
