import { describe, expect, it } from 'vitest';
import { MaxPartitionKeyBytes, resolvePartitionKey } from '../../src/core/partitionKey.ts';

const byTenant = (event: { tenant?: unknown }) => event.tenant;

describe('resolvePartitionKey', () => {
  it('accepts any non-empty string up to the byte limit, unicode included', () => {
    expect(resolvePartitionKey(byTenant, { tenant: 'a.b*c>d e/f' })).toEqual({ ok: true, key: 'a.b*c>d e/f' });
    expect(resolvePartitionKey(byTenant, { tenant: 'ż'.repeat(MaxPartitionKeyBytes / 2) }).ok).toBe(true);
  });

  it.each([
    [{}, 'partitionBy returned undefined: the event has no partition key'],
    [{ tenant: 7 }, 'partitionBy must return a string, got number 7'],
    [{ tenant: null }, 'partitionBy must return a string, got null'],
    [{ tenant: { id: 1 } }, 'partitionBy must return a string, got an object'],
    [{ tenant: '' }, 'partitionBy returned an empty string'],
    [{ tenant: 'ż'.repeat(MaxPartitionKeyBytes / 2 + 1) }, `partition key is ${MaxPartitionKeyBytes + 2} bytes long; at most 512 are allowed`],
  ])('rejects %j with a message naming what is wrong', (event, message) => {
    const result = resolvePartitionKey(byTenant, event);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.name).toBe('PartitionKeyError');
      expect(result.error.message).toBe(message);
    }
  });

  it('turns a throwing partitionBy into an error result', () => {
    const result = resolvePartitionKey(() => {
      throw new Error('no tenant header');
    }, {});
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toBe('partitionBy threw: no tenant header');
  });
});
