import { readFile } from 'node:fs/promises';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate, projectionEngine, silentLogger } from '../../src/index.ts';
import { comparePositions } from '../../src/core/position.ts';
import { MessagesAppendedChannel } from '../../src/postgres/migrate.ts';
import { migrations } from '../../src/postgres/migrations/index.ts';
import { createTestDatabase, useTestDatabase } from '../support/database.ts';
import { appendRounds, positionsOf } from '../support/workload.ts';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);
const schema_0_1_0 = new URL('../fixtures/schema-0.1.0.sql', import.meta.url);


/** What migrating must leave alone: the recorded steps, the trigger (its oid changes if it is recreated), checkpoints and dead letters. */
const schemaState = async (db: pg.Pool) => ({
  migrations: (await db.query<{ version: number; name: string; applied_at: Date }>('SELECT version, name, applied_at FROM distributary_migrations ORDER BY version')).rows,
  triggers: (await db.query<{ oid: string; function: string }>(
    `SELECT t.oid::text, p.prosrc AS function FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE t.tgname = 'distributary_messages_appended' AND t.tgrelid = 'emt_messages'::regclass`,
  )).rows,
  checkpoints: (await db.query('SELECT processor_id, partition, last_processed_checkpoint, last_processed_transaction_id::text FROM emt_processors ORDER BY 1, 2')).rows,
  deadLetters: (await db.query('SELECT id, processor_id, partition, global_position::text, status FROM distributary_dead_letters ORDER BY id')).rows,
});

describe('migrations', () => {
  const database = useTestDatabase();

  it('numbers its steps 1, 2, 3... in the order they apply', () => {
    expect(migrations.map((step) => step.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  it('takes over a database created by 0.1.0 without recreating anything, and an engine resumes from its checkpoints', async () => {
    const { connectionString, db } = database;
    // The database as 0.1.0 left it: Emmett's schema, distributary's unversioned one, events, checkpoints, a dead letter.
    const store = getPostgreSQLEventStore(connectionString);
    await store.schema.migrate();
    await store.close();
    await db.query(await readFile(schema_0_1_0, 'utf8'));
    const { rows: trigger_0_1_0 } = await db.query<{ oid: string }>("SELECT oid::text FROM pg_trigger WHERE tgname = 'distributary_messages_appended' AND tgrelid = 'emt_messages'::regclass");
    expect(trigger_0_1_0).toHaveLength(1);
    await appendRounds(connectionString, ['alpha', 'beta'], 3, [3, 4]);
    const checkpoints = new Map([
      ['alpha', (await positionsOf(db, 'alpha'))[1]!],
      ['beta', (await positionsOf(db, 'beta'))[3]!],
    ]);
    for (const [tenant, position] of checkpoints)
      await db.query(
        `INSERT INTO emt_processors (processor_id, partition, version, last_processed_checkpoint, last_processed_transaction_id, processor_instance_id, status, created_at, last_updated)
         VALUES ('ledger-hash', $1, 1, lpad($2::text, 19, '0'), $3::text::xid8, 'host-0.1.0', 'running', now(), now())`,
        [tenant, position.global.toString(), position.tx.toString()],
      );
    const skipped = (await positionsOf(db, 'alpha'))[0]!;
    await db.query(
      `INSERT INTO distributary_dead_letters (processor_id, partition, global_position, transaction_id, payload, error_name, error_message, attempts, decision, status)
       VALUES ('ledger-hash', 'alpha', $1, $2::text::xid8, '{}', 'Error', 'failed once', 3, 'skipped', 'skipped')`,
      [skipped.global.toString(), skipped.tx.toString()],
    );
    expect((await db.query("SELECT to_regclass('distributary_migrations') IS NULL AS absent")).rows).toEqual([{ absent: true }]);

    await migrate(connectionString);
    const migrated = await schemaState(db);
    expect(migrated.migrations.map(({ version, name }) => ({ version, name }))).toEqual(migrations.map(({ version, name }) => ({ version, name })));
    expect(migrated.triggers.map((t) => t.oid)).toEqual(trigger_0_1_0.map((t) => t.oid));
    expect(migrated.triggers[0]!.function).toContain(`pg_notify('${MessagesAppendedChannel}'`);
    expect(migrated.checkpoints).toHaveLength(2);
    expect(migrated.deadLetters).toHaveLength(1);

    await migrate(connectionString);
    expect(await schemaState(db)).toEqual(migrated);

    await appendRounds(connectionString, ['alpha', 'beta'], 1, [3, 4]);
    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger });
    await engine.start();
    try {
      expect(await engine.whenCaughtUp({ timeoutMs: 30_000 })).toEqual({ stopped: [] });
    } finally {
      await engine.stop();
    }
    for (const [tenant, checkpoint] of checkpoints) {
      const after = (await positionsOf(db, tenant)).filter((event) => comparePositions(event, checkpoint) > 0);
      expect(after.length, tenant).toBeGreaterThan(0);
      const { rows } = await db.query<{ global: string }>("SELECT position::text AS global FROM ledger_audit WHERE projector = 'ledger-hash' AND tenant = $1 ORDER BY position", [tenant]);
      expect(rows.map((row) => BigInt(row.global)), tenant).toEqual(after.map((event) => event.global).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    expect((await schemaState(db)).migrations).toEqual(migrated.migrations);
  });

  it('migrates a fresh database from two hosts at once, each step once', async () => {
    const connectionString = await createTestDatabase();
    const db = new pg.Pool({ connectionString });
    try {
      await Promise.all([migrate(connectionString), migrate(connectionString)]);
      const migrated = await schemaState(db);
      expect(migrated.migrations.map(({ version, name }) => ({ version, name }))).toEqual(migrations.map(({ version, name }) => ({ version, name })));
      expect(migrated.triggers).toHaveLength(1);
      const { rows } = await db.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE tablename LIKE 'distributary_%' ORDER BY 1");
      expect(rows.map((row) => row.name)).toEqual([
        'distributary_adoptions',
        'distributary_dead_letters',
        'distributary_engine_hosts',
        'distributary_hosts',
        'distributary_migrations',
        'distributary_outbox',
        'distributary_outbox_dead_letters',
        'distributary_ownership_log',
        'distributary_partition_owners',
        'distributary_partition_status',
        'distributary_partition_weights',
        'distributary_read_models',
        'distributary_rebuilds',
        'distributary_relay_status',
        'distributary_removed_tenants',
        'distributary_scheduler_snapshots',
      ]);

      await migrate(connectionString);
      expect(await schemaState(db)).toEqual(migrated);
    } finally {
      await db.end();
    }
  });
});
