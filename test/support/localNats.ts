import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort.js';
import type { LocalServer } from './localPostgres.js';
import { waitForPort } from './waitForPort.js';

export const natsServerAvailable = (): boolean => {
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Starts `nats-server -js` on a free port with its store in a temp dir. */
export const startLocalNats = async (): Promise<LocalServer> => {
  const dir = mkdtempSync(join(tmpdir(), 'distributary-nats-'));
  const port = await freePort();
  const server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
  await waitForPort(port, 15_000);
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
