import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';

/** A fresh database for one test file, on the suite's server. */
export const createTestDatabase = async (): Promise<string> => {
  const adminUrl = inject('databaseAdminUrl');
  const name = `test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

export type TestDatabase = { connectionString: string; db: pg.Pool };

/** Creates this file's database before its tests, with a pool on it, and ends the pool after them. */
export const useTestDatabase = (): TestDatabase => {
  let connectionString: string | undefined;
  let db: pg.Pool | undefined;
  beforeAll(async () => {
    connectionString = await createTestDatabase();
    db = new pg.Pool({ connectionString });
    // Tests restart the server; an idle connection it drops is replaced on next use.
    db.on('error', () => undefined);
  });
  afterAll(async () => db?.end());
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test database is created in beforeAll; use it inside tests');
    return value;
  };
  return {
    get connectionString() {
      return ready(connectionString);
    },
    get db() {
      return ready(db);
    },
  };
};
