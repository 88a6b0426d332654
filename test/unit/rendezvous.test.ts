import { describe, expect, it } from 'vitest';
import { rendezvousOwner, type WeightedHost } from '../../src/core/rendezvous.ts';

const keys = Array.from({ length: 10_000 }, (_, i) => `ledger\u0000tenant-${i}`);
const hosts = (n: number): WeightedHost[] => Array.from({ length: n }, (_, i) => ({ hostId: `host-${i}`, weight: 1 }));
const assign = (list: WeightedHost[]): Map<string, string> => new Map(keys.map((key) => [key, rendezvousOwner(key, list)!]));
const counts = (assignment: Map<string, string>): Map<string, number> => {
  const result = new Map<string, number>();
  for (const owner of assignment.values()) result.set(owner, (result.get(owner) ?? 0) + 1);
  return result;
};

describe('rendezvous assignment', () => {
  it('spreads keys evenly over equal hosts', () => {
    for (const share of counts(assign(hosts(4))).values()) expect(Math.abs(share - 2500)).toBeLessThan(250);
  });

  it('moves only the keys of a host that leaves, and about 1/N when one joins', () => {
    const four = assign(hosts(4));
    const three = assign(hosts(4).filter((host) => host.hostId !== 'host-2'));
    for (const [key, owner] of four) if (owner !== 'host-2') expect(three.get(key)).toBe(owner);
    const five = assign(hosts(5));
    const moved = keys.filter((key) => five.get(key) !== four.get(key));
    expect(moved.every((key) => five.get(key) === 'host-4')).toBe(true);
    expect(Math.abs(moved.length - 2000)).toBeLessThan(250);
  });

  it('gives a host a share in proportion to its weight, and nothing at weight 0', () => {
    const weighted = counts(assign([{ hostId: 'a', weight: 3 }, { hostId: 'b', weight: 1 }, { hostId: 'c', weight: 0 }]));
    expect(Math.abs((weighted.get('a') ?? 0) - 7500)).toBeLessThan(300);
    expect(weighted.get('c')).toBeUndefined();
    expect(rendezvousOwner('x', [])).toBeUndefined();
  });
});
