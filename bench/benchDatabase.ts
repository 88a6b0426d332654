import pg from 'pg';
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
