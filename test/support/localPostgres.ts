import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort.ts';
import { waitForPort } from './waitForPort.ts';

/** What a test needs to restart a PostgreSQL server this suite started itself. */
export type PostgresControl = { pgCtl: string; dataDir: string; port: number; socketDir: string; uid?: number; gid?: number };

/** A server the suite started; `control` when it can be restarted from a test. */
export type LocalServer = { url: string; stop(): Promise<void>; control?: PostgresControl };

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
  // Settings live in the data directory so that `pg_ctl restart` in a test brings the same server back.
  appendFileSync(
    join(data, 'postgresql.conf'),
    [`port = ${port}`, `unix_socket_directories = '${dir}'`, "listen_addresses = '127.0.0.1'", 'fsync = off', 'synchronous_commit = off',
      'full_page_writes = off', 'max_connections = 500', 'shared_buffers = 256MB', ''].join('\n'),
  );
  const pgCtl = join(bin, 'pg_ctl');
  execFileSync(pgCtl, ['start', '-D', data, '-w', '-l', join(dir, 'postgres.log')], { ...options, stdio: 'ignore' });
  await waitForPort(port, 30_000);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    control: { pgCtl, dataDir: data, port, socketDir: dir, ...owner },
    stop() {
      execFileSync(pgCtl, ['stop', '-D', data, '-m', 'immediate', '-w'], { ...options, stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
};
