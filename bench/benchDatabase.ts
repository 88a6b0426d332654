import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { appendWorkload, type Workload } from '../examples/shop/shopWorkload.ts';
import { startLocalPostgres, type LocalServer } from '../test/support/localPostgres.ts';

export type BenchServer = { adminUrl: string; createDatabase(name: string, template?: string): Promise<string>; close(): Promise<void> };

/** DATABASE_URL's server when set, otherwise a local PostgreSQL on a free port. */
export const benchServer = async (): Promise<BenchServer> => {
  let local: LocalServer | undefined;
  const adminUrl = process.env.DATABASE_URL ?? (local = await startLocalPostgres()).url;
  return {
    adminUrl,
    async createDatabase(name, template) {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name}`);
        await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
      } finally {
        await admin.end();
      }
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
    close: async () => local?.stop(),
  };
};

/**
 * A fresh database with Emmett's schema only (an engine adds its own objects to its copy, timed) and
 * the workload appended by `parallel` writers; resolves with its URL and how long appending took.
 */
export const seedShopStore = async (server: BenchServer, name: string, workload: Workload, parallel: number): Promise<{ connectionString: string; appendSeconds: number }> => {
  const connectionString = await server.createDatabase(name);
  const store = getPostgreSQLEventStore(connectionString);
  await store.schema.migrate();
  await store.close();
  const started = Date.now();
  await appendWorkload(connectionString, workload, () => undefined, parallel);
  return { connectionString, appendSeconds: (Date.now() - started) / 1000 };
};
