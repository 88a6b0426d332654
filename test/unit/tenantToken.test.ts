import { describe, expect, it } from 'vitest';
import { MaxTokenLength, subjectToken, tenantOfToken, tenantToken } from '../../src/jetstream/tenantToken.ts';

const tricky = [
  'tenant-1', 'Tenant-1', 'tenant_1', 'tenant.1', 'tenant*1', 'tenant>1', 'tenant 1', 'tenant\t1', 'tenant/1', 'tenant\\1',
  '_5f', '_', '__', '=', '=abc', 'żółć', '租户', '🙂', 'a.b.c', '>', '*', '.', ' ', 'x'.repeat(150), 'x'.repeat(160), 'x'.repeat(161),
  'y'.repeat(200), 'Z'.repeat(300), '.'.repeat(512), 'a b/c.d*e>f',
];
const valid = /^[A-Za-z0-9_=-]+$/;

describe('tenant tokens', () => {
  it('are valid subject tokens and stream-name parts, at most the bound long', () => {
    for (const key of tricky) {
      const token = tenantToken(key);
      expect(token).toMatch(valid);
      expect(token.length).toBeLessThanOrEqual(MaxTokenLength + 1);
    }
  });

  it('round-trip every key whose escaped form fits, including dots, wildcards, spaces, slashes, unicode and 160 chars', () => {
    for (const key of tricky) {
      const token = tenantToken(key);
      if (token.startsWith('=')) expect(tenantOfToken(token)).toBeUndefined();
      else expect(tenantOfToken(token)).toBe(key);
    }
    expect(tenantOfToken(tenantToken('x'.repeat(160)))).toBe('x'.repeat(160));
  });

  it('never gives two keys the same token', () => {
    const keys = new Set<string>(tricky);
    for (let i = 0; i < 20_000; i++) {
      keys.add(`tenant-${i}`);
      keys.add(`Tenant-${i}`);
      keys.add(`tenant_${i}`);
      keys.add(`tenant.${i}`);
      keys.add(`t${'_'.repeat(i % 7)}${i}`);
      keys.add(`${'k'.repeat(150 + (i % 30))}${i}`);
    }
    const tokens = new Map<string, string>();
    for (const key of keys) {
      const token = tenantToken(key);
      expect(tokens.get(token) ?? key).toBe(key);
      tokens.set(token, key);
    }
    expect(tokens.size).toBe(keys.size);
  });

  it('keeps tokens lowercase so stream directories cannot collide on case-insensitive file systems', () => {
    for (const key of tricky) expect(tenantToken(key)).toBe(tenantToken(key).toLowerCase());
  });

  it('escapes event types but keeps their case readable', () => {
    expect(subjectToken('ShoppingCartConfirmed')).toBe('ShoppingCartConfirmed');
    expect(subjectToken('cart.item added')).toBe('cart_2eitem_20added');
  });
});
