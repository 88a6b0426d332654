import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort.ts';
import type { LocalServer } from './localPostgres.ts';
import { waitForPort } from './waitForPort.ts';

export const natsServerAvailable = (): boolean => {
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export type LocalNats = LocalServer & {
  /** Stops the server and starts it again on the same port and store, as a restart would. */
  restart(downMs?: number): Promise<void>;
  /** Has the server read its configuration file again (SIGHUP), as `nats-server --signal reload` does. */
  reload(): void;
  /** The running server's process id. */
  pid(): number | undefined;
};

/** Starts `nats-server -js` on a free port with its store in a temp dir; `config` is a configuration file to start it with instead (naming its own store). */
export const startLocalNats = async (options: { config?: string } = {}): Promise<LocalNats> => {
  const dir = mkdtempSync(join(tmpdir(), 'distributary-nats-'));
  const port = await freePort();
  const launch = async () => {
    const server = spawn('nats-server', [...(options.config === undefined ? ['-js', '-sd', dir] : ['-c', options.config]), '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    const exited = new Promise((resolve) => server.once('exit', resolve));
    await waitForPort(port, 15_000);
    return { server, exited };
  };
  let current = await launch();
  const halt = async (): Promise<void> => {
    current.server.kill('SIGTERM');
    await current.exited;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: () => current.server.pid,
    reload() {
      current.server.kill('SIGHUP');
    },
    async restart(downMs = 1000) {
      await halt();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      current = await launch();
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
