import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export type Database = { connectionString: string; embedded: boolean; close(): Promise<void> };

/**
 * DATABASE_URL when set; otherwise an in-memory PostgreSQL (PGlite) served on a local port, so the
 * engine, its worker threads and Emmett connect to it like to any server.
 */
export const openDatabase = async (): Promise<Database> => {
  const url = process.env.DATABASE_URL;
  if (url !== undefined && url !== '') return { connectionString: url, embedded: false, close: () => Promise.resolve() };
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 100 });
  await server.start();
  const port = Number(server.getServerConn().split(':').at(-1));
  return {
    connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    embedded: true,
    async close() {
      await server.stop();
      await db.close();
    },
  };
};
