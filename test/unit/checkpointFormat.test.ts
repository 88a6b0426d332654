import { describe, expect, it } from 'vitest';
import { CheckpointFormatError, formatCheckpoint, parseCheckpoint } from '../../src/core/checkpointFormat.ts';
import type { Position } from '../../src/core/position.ts';

const position: Position = { tx: 1234n, global: 42n };

describe('checkpoint formats', () => {
  it("writes Emmett 0.42's zero-padded global position and the newer transaction:position text", () => {
    expect(formatCheckpoint(position, 'position')).toBe('0000000000000000042');
    expect(formatCheckpoint(position, 'transaction:position')).toBe('00000000000000001234:0000000000000000042');
    expect(formatCheckpoint({ tx: 0n, global: 0n }, 'transaction:position')).toBe('00000000000000000000:0000000000000000000');
  });

  it('reads back what it writes in either format', () => {
    for (const format of ['position', 'transaction:position'] as const) expect(parseCheckpoint(formatCheckpoint(position, format), '1234')).toEqual(position);
  });

  it('takes the transaction from the column beside a bare position, and from the text when it carries one', () => {
    expect(parseCheckpoint('0000000000000000042', '1234')).toEqual(position);
    expect(parseCheckpoint('0000000000000000042', 1234n)).toEqual(position);
    expect(parseCheckpoint('00000000000000001234:0000000000000000042', '999')).toEqual(position);
    expect(parseCheckpoint('00000000000000001234:0000000000000000042')).toEqual(position);
  });

  it("reads the upgrade's rewrite of an old row and the unpadded text of Emmett's prereleases", () => {
    expect(parseCheckpoint(`${'1234'.padStart(20, '0')}:${'0000000000000000042'}`)).toEqual(position);
    expect(parseCheckpoint('1234:42')).toEqual(position);
  });

  it('reads leading zeros as decimal, not octal', () => {
    expect(parseCheckpoint('00000000000000000123:0000000000000000010')).toEqual({ tx: 123n, global: 10n });
  });

  it('refuses a bare position with no transaction beside it, and text in neither format', () => {
    for (const missing of [undefined, null, '']) expect(() => parseCheckpoint('0000000000000000042', missing)).toThrow(CheckpointFormatError);
    for (const text of ['', 'BEGINNING', '12:', ':12', '1:2:3', '-5', '12a', '1'.repeat(21)]) expect(() => parseCheckpoint(text, '1')).toThrow(CheckpointFormatError);
  });
});
