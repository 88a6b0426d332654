import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { DistributaryError } from '../core/errors.ts';
import { migrations } from './migrations/index.ts';
import type { Migration } from './migrations/migration.ts';

/** Channel a statement trigger on `emt_messages` notifies after every append, so readers wake up at once. */
export const MessagesAppendedChannel = 'distributary_messages_appended';

// Arbitrary but fixed: serializes concurrent migrations from several hosts.
export const MigrationLockId = 7_305_114_119_207_731;

const createMigrationsTableSQL = `
CREATE TABLE IF NOT EXISTS distributary_migrations (
  version     INT         PRIMARY KEY,
  name        TEXT        NOT NULL,
  applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

const applyStep = async (client: pg.Client, step: Migration): Promise<void> => {
  try {
    await client.query('BEGIN');
    await client.query(step.sql);
    await client.query('INSERT INTO distributary_migrations (version, name) VALUES ($1, $2)', [step.version, step.name]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new DistributaryError(`migration ${step.version} (${step.name}) failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
};

/**
 * Creates Emmett's event store schema if missing, then applies distributary's steps not yet recorded
 * in `distributary_migrations`, each once, in order, in its own transaction. Steps a newer release
 * recorded are left alone.
 */
export const migrate = async (connectionString: string): Promise<void> => {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    // Hosts starting together migrate one after the other; the lock ends with the session.
    await client.query('SELECT pg_advisory_lock($1)', [MigrationLockId]);
    const store = getPostgreSQLEventStore(connectionString);
    try {
      await store.schema.migrate();
    } finally {
      await store.close();
    }
    await client.query(createMigrationsTableSQL);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM distributary_migrations');
    const applied = new Set(rows.map((row) => row.version));
    for (const step of migrations) if (!applied.has(step.version)) await applyStep(client, step);
  } finally {
    await client.end();
  }
};
