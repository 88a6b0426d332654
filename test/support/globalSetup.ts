import type { TestProject } from 'vitest/node';
import { dockerAnswers, startNatsContainer, startPostgresContainer } from './containers.ts';
import { natsServerAvailable, startLocalNats } from './localNats.ts';
import { startLocalPostgres, type LocalServer, type PostgresControl } from './localPostgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseAdminUrl: string;
    /** Set when the suite started PostgreSQL itself and can restart it. */
    postgresControl: PostgresControl | null;
    natsUrl: string | null;
  }
}

/**
 * Real servers for the whole suite: DATABASE_URL / NATS_URL when set, else containers when a Docker
 * engine answers, else local `postgres` and `nats-server` processes on free ports.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: LocalServer[] = [];
  const docker = process.env.DATABASE_URL && process.env.NATS_URL ? false : await dockerAnswers();

  let databaseAdminUrl = process.env.DATABASE_URL;
  let postgresControl: PostgresControl | null = null;
  if (databaseAdminUrl === undefined) {
    try {
      const server = docker ? await startPostgresContainer() : await startLocalPostgres();
      started.push(server);
      databaseAdminUrl = server.url;
      postgresControl = server.control ?? null;
    } catch (error) {
      throw new Error(
        `Cannot start PostgreSQL for the tests: set DATABASE_URL, run a Docker engine, or install PostgreSQL server binaries. (${error instanceof Error ? error.message : String(error)})`,
        { cause: error },
      );
    }
  }

  let natsUrl = process.env.NATS_URL ?? null;
  if (natsUrl === null && (docker || natsServerAvailable())) {
    const server = docker ? await startNatsContainer() : await startLocalNats();
    started.push(server);
    natsUrl = server.url;
  }

  project.provide('databaseAdminUrl', databaseAdminUrl);
  project.provide('postgresControl', postgresControl);
  project.provide('natsUrl', natsUrl);
  return async () => {
    await Promise.all(started.map((server) => server.stop()));
  };
}
