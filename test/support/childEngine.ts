import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProjectionEngineOptions } from '../../src/index.ts';

export type ChildEngine = { process: ChildProcess; active: Promise<void>; exited: Promise<number | null> };

const running = new Set<ChildProcess>();

/** Kills every child still running: a test that timed out must not leave hosts behind to load the machine. */
export const killChildren = (): void => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
};
process.once('exit', killChildren);

/** Starts a support script in a child process; `active` resolves when it prints `active` (it holds its lease). */
const startChild = (script: string, args: string[]): ChildEngine => {
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const active = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('active')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`engine process exited with ${code} before becoming active`)));
  });
  active.catch(() => undefined);
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { process: child, active, exited };
};

/** An engine in a child process, in the given lease group; over JetStream when `transport` says so. */
export const startChildEngine = (
  connectionString: string,
  projectors: URL,
  options: { group?: string; leaseMs?: number } & Pick<ProjectionEngineOptions, 'hostId' | 'transport'> = {},
): ChildEngine =>
  startChild('./engineProcess.ts', [
    connectionString,
    projectors.href,
    options.group ?? 'default',
    String(options.leaseMs ?? 2000),
    JSON.stringify({ hostId: options.hostId, transport: options.transport }),
  ]);

/** A relay in a child process. */
export const startChildRelay = (connectionString: string, natsUrl: string, options: { app?: string; leaseMs?: number } = {}): ChildEngine =>
  startChild('./relayProcess.ts', [connectionString, natsUrl, options.app ?? 'shop', String(options.leaseMs ?? 2000)]);

/** An outbox dispatcher in a child process, posting to `receiverUrl`. */
export const startChildDispatcher = (connectionString: string, receiverUrl: string): ChildEngine => startChild('./dispatcherProcess.ts', [connectionString, receiverUrl]);
