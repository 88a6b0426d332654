import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./engineProcess.ts', import.meta.url));

export type ChildEngine = { process: ChildProcess; active: Promise<void>; exited: Promise<number | null> };

/** Starts an engine in a child process; `active` resolves when it holds the reader lease. */
export const startChildEngine = (connectionString: string, projectors: URL, options: { group?: string; leaseMs?: number } = {}): ChildEngine => {
  const child = spawn(process.execPath, ['--import', 'tsx', script, connectionString, projectors.href, options.group ?? 'default', String(options.leaseMs ?? 2000)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const active = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('active')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`engine process exited with ${code} before becoming active`)));
  });
  active.catch(() => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { process: child, active, exited };
};
