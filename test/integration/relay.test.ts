import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetters, relay, silentLogger, tenantRegistryBucket, tenantStreamNames } from '../../src/index.ts';
import { startChildRelay } from '../support/childEngine.ts';
import { useTestDatabase } from '../support/database.ts';
import { startLocalNats } from '../support/localNats.ts';
import { connectNats, natsUrl, readTenantStream, uniqueApp } from '../support/nats.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents } from '../support/workload.ts';

describe('relay', () => {
  const database = useTestDatabase();
  let nc: NatsConnection;
  beforeAll(async () => (nc = await connectNats()));
  afterAll(async () => nc.close());

  /** Every tenant's events in delivery order, as the relay must have stored them. */
  const expectedByTenant = async (): Promise<Map<string, bigint[]>> => {
    const { rows } = await database.db.query<{ tenant: string; position: string }>(
      `SELECT message_metadata->>'tenant' AS tenant, global_position::text AS position FROM emt_messages
        WHERE jsonb_typeof(message_metadata->'tenant') = 'string' ORDER BY transaction_id, global_position`,
    );
    const byTenant = new Map<string, bigint[]>();
    for (const row of rows) byTenant.set(row.tenant, [...(byTenant.get(row.tenant) ?? []), BigInt(row.position)]);
    return byTenant;
  };

  const expectStreamsToHoldExactly = async (app: string, connection = nc, only: (tenant: string) => boolean = () => true): Promise<number> => {
    const expected = await expectedByTenant();
    let total = 0;
    for (const [tenant, positions] of expected) {
      if (!only(tenant)) continue;
      const stored = await readTenantStream(connection, tenantStreamNames(app, tenant).stream);
      expect(stored.map((m) => m.position), tenant).toEqual(positions);
      expect(new Set(stored.map((m) => m.tenant))).toEqual(new Set([tenant]));
      total += stored.length;
    }
    return total;
  };

  it('puts 50,000 events of 200 tenants into one stream per tenant, each in delivery order, and registers every tenant', async () => {
    const app = uniqueApp();
    await appendLedgerEvents(database.connectionString, { tenants: 200, carts: 400, events: 50_000, seed: 51, parallel: 8 });
    const running = relay({ connectionString: database.connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    await running.start();
    try {
      await running.whenCaughtUp({ timeoutMs: 180_000 });
      expect(running.status().published).toBe(50_000);
    } finally {
      await running.stop();
    }
    expect(await expectStreamsToHoldExactly(app)).toBe(50_000);
    const registry = await new Kvm(nc).open(tenantRegistryBucket(app));
    const keys = [];
    for await (const key of await registry.keys()) keys.push(key);
    expect(keys.sort()).toEqual([...(await expectedByTenant()).keys()].map((tenant) => tenantStreamNames(app, tenant).token).sort());
    expect(keys.length).toBeGreaterThan(150);
    const stream = tenantStreamNames(app, 'tenant-7');
    expect(await (await registry.get(stream.token))?.json()).toMatchObject({ tenant: 'tenant-7', stream: stream.stream });
    const subjects = (await (await jetstreamManager(nc)).streams.info(stream.stream)).config.subjects;
    expect(subjects).toEqual([`${app}.tenants.tenant-7.>`]);
  });

  it('neither duplicates nor skips when the active relay is killed mid-run and a standby takes over', async () => {
    const app = uniqueApp();
    const appending = appendLedgerEvents(database.connectionString, { tenants: 50, carts: 100, events: 10_000, seed: 52, parallel: 4, tenantName: (i) => `kill-${i}` });
    const first = startChildRelay(database.connectionString, natsUrl(), { app, leaseMs: 2000 });
    await first.active;
    const standby = relay({ connectionString: database.connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger, lease: { timeoutMs: 2000 } });
    await standby.start();
    try {
      await waitUntil('the first relay has published some events', async () => {
        const { rows } = await database.db.query("SELECT 1 FROM emt_processors WHERE processor_id = $1 AND last_processed_checkpoint::bigint > 2000", [`distributary:relay:${app}`]);
        return rows.length === 1;
      }, 60_000, 20);
      expect(standby.status().role).toBe('standby');
      first.process.kill('SIGKILL');
      await first.exited;
      const killedAt = Date.now();
      await standby.whenActive({ timeoutMs: 10_000 });
      expect(Date.now() - killedAt).toBeLessThan(2000 + 2000);
      await appending;
      await standby.whenCaughtUp({ timeoutMs: 120_000 });
    } finally {
      await standby.stop();
    }
    const relayed = await expectStreamsToHoldExactly(app);
    expect(relayed).toBeGreaterThanOrEqual(60_000);
  });

  it('loses nothing when nats-server restarts in the middle of a run', async () => {
    const app = uniqueApp();
    const ownNats = await startLocalNats();
    const ownConnection = await connect({ servers: ownNats.url });
    await appendLedgerEvents(database.connectionString, { tenants: 40, carts: 80, events: 20_000, seed: 54, parallel: 4, tenantName: (i) => `nats-${i}` });
    const running = relay({ connectionString: database.connectionString, nats: { servers: ownNats.url }, app, logger: silentLogger, batchSize: 200 });
    await running.start();
    try {
      await waitUntil('a tenth is relayed', () => running.status().published > 2000, 60_000, 10);
      expect(running.status().published).toBeLessThan(20_000);
      await ownNats.restart();
      await running.whenCaughtUp({ timeoutMs: 120_000 });
    } finally {
      await running.stop();
    }
    await expectStreamsToHoldExactly(app, ownConnection, (tenant) => tenant.startsWith('nats-'));
    await ownConnection.close();
    await ownNats.stop();
  });

  it('runs from the command line until it is told to stop', async () => {
    const app = uniqueApp();
    await appendLedgerEvents(database.connectionString, { tenants: 3, carts: 3, events: 30, seed: 53, tenantName: (i) => `cli-${i}` });
    const child = spawn(process.execPath, [fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url)), 'relay', '--app', app,
      '--nats', natsUrl(), '--database-url', database.connectionString], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const jsm = await jetstreamManager(nc);
    const stream = tenantStreamNames(app, 'cli-2').stream;
    const expected = (await expectedByTenant()).get('cli-2')!.length;
    await waitUntil('the relay has filled cli-2', async () => (await jsm.streams.info(stream).catch(() => undefined))?.state.messages === expected, 60_000, 100);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('records events without a usable tenant instead of publishing them, and keeps going', async () => {
    const app = uniqueApp();
    const store = getPostgreSQLEventStore(database.connectionString);
    await store.appendToStream('bad-relay', [
      { type: 'ItemAdded', data: { cartId: 'none', amount: 1 }, metadata: {} },
      { type: 'ItemAdded', data: { cartId: 'number', amount: 1 }, metadata: { tenant: 7 } },
      { type: 'ItemAdded', data: { cartId: 'fine', amount: 1 }, metadata: { tenant: 'after.bad / ones' } },
    ]);
    await store.close();
    const running = relay({ connectionString: database.connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    await running.start();
    try {
      await running.whenCaughtUp({ timeoutMs: 120_000 });
    } finally {
      await running.stop();
    }
    const operations = deadLetters({ connectionString: database.connectionString });
    const letters = await operations.list({ processorId: `distributary:relay:${app}` });
    await operations.close();
    expect(letters.map((l) => l.errorMessage)).toEqual([
      'partitionBy returned undefined: the event has no partition key',
      'partitionBy must return a string, got number 7',
    ]);
    const stored = await readTenantStream(nc, tenantStreamNames(app, 'after.bad / ones').stream);
    expect(stored.map((m) => m.tenant)).toEqual(['after.bad / ones']);
  });

  it('ends its session when storing its checkpoint fails, even with nothing more to publish, and catches up in the next', async () => {
    const app = uniqueApp();
    const relayId = `distributary:relay:${app}`;
    await appendLedgerEvents(database.connectionString, { tenants: 3, carts: 2, events: 30, seed: 91 });
    const running = relay({ connectionString: database.connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    await running.start();
    try {
      await running.whenCaughtUp({ timeoutMs: 60_000 });
      // The next write of this relay's checkpoint fails once (a sequence is not rolled back with it).
      await database.db.query(`CREATE SEQUENCE relay_fails_once`);
      await database.db.query(`
        CREATE FUNCTION relay_fails_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.processor_id = '${relayId}' AND nextval('relay_fails_once') = 1 THEN RAISE EXCEPTION 'checkpoint write refused once'; END IF;
          RETURN NEW;
        END $$`);
      await database.db.query(`CREATE TRIGGER relay_fails_once BEFORE UPDATE ON emt_processors FOR EACH ROW EXECUTE FUNCTION relay_fails_once()`);
      // One more batch, then nothing: only a new session stores a checkpoint past it.
      await appendLedgerEvents(database.connectionString, { tenants: 3, carts: 2, events: 5, seed: 92 });
      await running.whenCaughtUp({ timeoutMs: 30_000 });
      const { rows } = await database.db.query<{ failed: string }>(`SELECT last_value::text AS failed FROM relay_fails_once`);
      expect(Number(rows[0]!.failed)).toBeGreaterThanOrEqual(2);
    } finally {
      await running.stop();
      await database.db.query('DROP TRIGGER IF EXISTS relay_fails_once ON emt_processors');
      await database.db.query('DROP FUNCTION IF EXISTS relay_fails_once(); DROP SEQUENCE IF EXISTS relay_fails_once');
    }
    await expectStreamsToHoldExactly(app);
  });
});
