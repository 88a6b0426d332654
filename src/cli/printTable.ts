/** A number, possibly with thousands separators, a fraction and a unit: `1,234`, `12.5s`, `4m 05s`, `85.2 MB`, `2,900/s`. */
const measured = /^-?\d[\d,]*(\.\d+)? ?[a-zA-Z%/]*( \d+[a-zA-Z]+)?$/;

const clip = (cell: string): string => (cell.length > 60 ? `${cell.slice(0, 57)}...` : cell);

/**
 * Rows as aligned columns, one string per line; columns holding only numbers (or nothing) are
 * right-aligned so their digits line up. Long cells are cut to keep lines readable.
 */
export const formatTable = (headers: readonly string[], rows: readonly (readonly string[])[]): string[] => {
  const clipped = rows.map((row) => headers.map((_, i) => clip(row[i] ?? '')));
  const table = [[...headers], ...clipped];
  const widths = headers.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const right = headers.map((_, i) => clipped.length > 0 && clipped.every((row) => row[i] === '' || measured.test(row[i]!)));
  const lines = table.map((row) => row.map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  if (rows.length === 0) lines.push('(none)');
  return lines;
};

/** Prints rows as aligned columns on stdout. */
export const printTable = (headers: readonly string[], rows: readonly (readonly string[])[]): void => {
  process.stdout.write(`${formatTable(headers, rows).join('\n')}\n`);
};
