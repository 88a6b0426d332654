import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Runs the `distributary` command against a database and returns what it printed. */
export const runCli = (connectionString: string, ...args: string[]): string =>
  execFileSync(process.execPath, [main, ...args, '--database-url', connectionString], { encoding: 'utf8' });
