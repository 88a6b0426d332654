import { PGlite } from '@electric-sql/pglite';
import { servePGlite } from './pgliteServer.ts';

export type Database = { connectionString: string; embedded: boolean; close(): Promise<void> };

/**
 * DATABASE_URL when set; otherwise an in-memory PostgreSQL (PGlite) served on a local port, so the
 * engine, its worker threads and Emmett connect to it like to any server.
 */
export const openDatabase = async (): Promise<Database> => {
  const url = process.env.DATABASE_URL;
  if (url !== undefined && url !== '') return { connectionString: url, embedded: false, close: () => Promise.resolve() };
  const db = await PGlite.create();
  const server = await servePGlite(db);
  return {
    connectionString: `postgres://postgres:postgres@127.0.0.1:${server.port}/postgres?sslmode=disable`,
    embedded: true,
    async close() {
      await server.close();
      await db.close();
    },
  };
};
