import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { inject } from 'vitest';

/**
 * Restarts the suite's PostgreSQL with `pg_ctl restart -m fast` when the suite started it; on a
 * server it does not own (DATABASE_URL, containers) it drops every other connection to the database.
 * Returns what it did.
 */
export const restartPostgres = async (connectionString: string): Promise<'restarted' | 'connections dropped'> => {
  const control = inject('postgresControl');
  if (control !== null) {
    execFileSync(control.pgCtl, ['restart', '-D', control.dataDir, '-m', 'fast', '-w', '-l', `${control.socketDir}/postgres.log`], {
      stdio: 'ignore',
      ...(control.uid === undefined ? {} : { uid: control.uid, gid: control.gid }),
    });
    return 'restarted';
  }
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  } finally {
    await client.end();
  }
  return 'connections dropped';
};
