/** Prints rows as aligned columns on stdout; long cells are cut to keep lines readable. */
export const printTable = (headers: string[], rows: string[][]): void => {
  const clip = (cell: string): string => (cell.length > 60 ? `${cell.slice(0, 57)}...` : cell);
  const table = [headers, ...rows.map((row) => row.map(clip))];
  const widths = headers.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  for (const row of table) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`);
  if (rows.length === 0) process.stdout.write('(none)\n');
};
