import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort.js';
import { waitForPort } from './waitForPort.js';

export type LocalServer = { url: string; stop(): Promise<void> };

const findPostgresBin = (): string | undefined => {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) if (existsSync(join(root, version, 'bin', 'initdb'))) return join(root, version, 'bin');
  }
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
};

const postgresUid = (): { uid: number; gid: number } | undefined => {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
};

/** initdb into a temp dir and start `postgres` on a free port; as root, runs as the `postgres` user. */
export const startLocalPostgres = async (): Promise<LocalServer> => {
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error('no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and pg_config)');
  const dir = mkdtempSync(join(tmpdir(), 'distributary-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? postgresUid() : undefined;
  if (asRoot && owner === undefined) throw new Error('running as root but there is no postgres user to run PostgreSQL as');
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  const options = owner === undefined ? {} : { uid: owner.uid, gid: owner.gid };
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'], { ...options, stdio: 'ignore' });
  const port = await freePort();
  const server: ChildProcess = spawn(
    join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off', '-c', 'max_connections=500', '-c', 'shared_buffers=256MB'],
    { ...options, stdio: 'ignore' },
  );
  await waitForPort(port, 30_000);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    async stop() {
      server.kill('SIGINT');
      await new Promise((resolve) => server.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
