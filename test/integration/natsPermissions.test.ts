import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appAccount, natsConfig, projectionEngine, relay, silentLogger, tenantStreamNames, type NatsConfig, type TenantUser } from '../../src/index.ts';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';
import { startLocalNats, type LocalNats } from '../support/localNats.ts';
import { uniqueApp } from '../support/nats.ts';
import { appendLedgerEvents, foldFromStore, readModelTotals } from '../support/workload.ts';

const projection = (name: string): URL => new URL(`../support/projections/${name}.ts`, import.meta.url);

/** Keys that differ only in case, or in characters the token encoding escapes. */
const tenants = ['acme', 'ACME', 'a.b', 'a_2eb', 'a b', 'a*b'];

const permissionError = /Permissions Violation/;

describe('nats-server started with the configuration nats-config generates', () => {
  const database = useTestDatabase();
  const app = uniqueApp();
  let out: string;
  let config: NatsConfig;
  let nats: LocalNats;
  const open: NatsConnection[] = [];

  const connectAs = async (nkeyFile: string, options: { inboxPrefix?: string } = {}): Promise<NatsConnection> => {
    const seed = new TextEncoder().encode(readFileSync(nkeyFile, 'utf8').trim());
    const nc = await connect({ servers: nats.url, authenticator: nkeyAuthenticator(seed), timeout: 2000, ...options });
    open.push(nc);
    return nc;
  };
  const tenantUser = (tenant: string) => config.tenants.find((t) => t.tenant === tenant)!;
  const connectTenant = (tenant: string): Promise<NatsConnection> => connectAs(tenantUser(tenant).nkeyFile, { inboxPrefix: tenantUser(tenant).inboxPrefix });
  /** The permission errors the server sent the connection, as nats.js reports them. */
  const violations = (nc: NatsConnection): string[] => {
    const seen: string[] = [];
    void (async () => {
      for await (const status of nc.status()) if (status.type === 'error') seen.push(status.error.message);
    })();
    return seen;
  };

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'distributary-nats-config-'));
    config = await natsConfig({ app, out, tenants, projectors: ['ledger-hash'] });
    nats = await startLocalNats({ config: config.configFile });
  });
  afterAll(async () => {
    await Promise.all(open.map((nc) => nc.close().catch(() => undefined)));
    await nats?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  it('lets the relay and the hosts run end to end with their restricted users', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: tenants.length, carts: 12, events: 600, seed: 141, tenantName: (i) => tenants[i]! });
    const shopRelay = relay({ connectionString, nats: { servers: nats.url, nkeyFile: config.relay.nkeyFile }, app, logger: silentLogger });
    const engine = projectionEngine({
      connectionString,
      projectors: projection('hashLedger'),
      logger: silentLogger,
      transport: { type: 'jetstream', servers: nats.url, app, nkeyFile: config.host.nkeyFile },
    });
    // The host may only read the registry: it waits for the relay to create it.
    await Promise.all([engine.start(), shopRelay.start()]);
    try {
      await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      const totals = await readModelTotals(db, 'ledger-hash');
      expect(totals).toEqual(await foldFromStore(db));
      expect(new Set([...totals.keys()].map((key) => key.slice(0, key.lastIndexOf('/'))))).toEqual(new Set(tenants));
    } finally {
      await engine.stop();
      await shopRelay.stop();
    }
  });

  it('gives every tenant its own stream, whatever its key looks like', () => {
    const streams = new Set(config.tenants.map((t) => t.stream));
    expect(streams.size).toBe(tenants.length);
    for (const tenant of tenants) expect(tenantUser(tenant).stream).toBe(tenantStreamNames(app, tenant).stream);
  });

  it('lets a tenant user read its own stream, and nothing of another tenant', async () => {
    const nc = await connectTenant('acme');
    const seen = violations(nc);
    const jsm = await jetstreamManager(nc);
    const own = tenantStreamNames(app, 'acme').stream;
    const other = tenantStreamNames(app, 'ACME');
    await jsm.consumers.add(own, { name: 'acme-reader', ack_policy: 'explicit' });
    const message = await (await jetstream(nc).consumers.get(own, 'acme-reader')).next({ expires: 5000 });
    expect(message?.headers?.get('Distributary-Tenant')).toBe('acme');

    // A consumer on the other tenant's stream, its stream's info, or the projectors' durable on its own stream: refused by the server.
    await expect(jsm.consumers.add(other.stream, { name: 'steal', ack_policy: 'explicit' })).rejects.toThrow(permissionError);
    await expect(jsm.streams.info(other.stream)).rejects.toThrow(permissionError);
    await expect(jsm.consumers.info(own, 'ledger-hash')).rejects.toThrow(permissionError);
    await expect(jsm.consumers.delete(own, 'ledger-hash')).rejects.toThrow(permissionError);
    // Subscribing to the other tenant's subjects, or to the inbox the hosts' replies travel on.
    await expect(consumeOne(nc, other.subjects)).rejects.toThrow(permissionError);
    await expect(consumeOne(nc, '_INBOX.>')).rejects.toThrow(permissionError);
    // Publishing on the other tenant's subjects.
    nc.publish(other.subject('ItemAdded'), 'forged');
    await nc.flush();
    await waitForViolation(seen, other.subject('ItemAdded'));
    expect((await adminInfo(config.relay.nkeyFile, other.stream)).state.messages).toBe(await storedEventsOf(database.db, 'ACME'));
  });

  it('refuses a host user that publishes events', async () => {
    const nc = await connectAs(config.host.nkeyFile);
    const seen = violations(nc);
    const subject = tenantStreamNames(app, 'acme').subject('ItemAdded');
    nc.publish(subject, 'forged');
    await nc.flush();
    await waitForViolation(seen, subject);
  });

  it('adds new tenants on a second run and leaves every credential it had as it was', async () => {
    const before = Object.fromEntries([config.relay.nkeyFile, config.host.nkeyFile, ...config.tenants.map((t) => t.nkeyFile)].map((f) => [f, readFileSync(f, 'utf8')]));
    const again = await natsConfig({ app, out, tenants: ['newcomer', 'acme'], projectors: ['ledger-hash'] });
    expect(again.added).toEqual(['newcomer']);
    expect(again.tenants).toHaveLength(tenants.length + 1);
    for (const [file, seed] of Object.entries(before)) expect(readFileSync(file, 'utf8')).toBe(seed);
    nats.reload();
    config = again;
    // The server takes the new user once it has read its configuration again.
    const nc = await retried(() => connectTenant('newcomer'));
    const jsm = await jetstreamManager(nc);
    await expect(jsm.streams.info(tenantStreamNames(app, 'acme').stream)).rejects.toThrow(permissionError);
  });

  it('reads the tenants from the registry as the relay, and the projectors from the database, on the command line', () => {
    const printed = runCli(database.connectionString, 'nats-config', '--app', app, '--out', out, '--nats', nats.url);
    expect(printed).toContain(`account ${appAccount(app)}: relay, host and ${tenants.length + 1} tenant user(s); 0 added`);
    const index = JSON.parse(readFileSync(join(out, 'tenants.json'), 'utf8')) as TenantUser[];
    expect(index.map((t) => t.tenant).sort()).toEqual([...tenants, 'newcomer'].sort());
    // The projector that ran against the database is refused to tenant users: its durable is in their deny list.
    const accounts = readFileSync(config.accountsFile, 'utf8');
    expect(accounts).toContain(`$JS.API.CONSUMER.MSG.NEXT.${tenantStreamNames(app, 'newcomer').stream}.ledger-hash`);
  });

  const retried = async <T>(attempt: () => Promise<T>): Promise<T> => {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        if (tries >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  const consumeOne = async (nc: NatsConnection, subject: string): Promise<void> => {
    const subscription = nc.subscribe(subject, { max: 1 });
    for await (const message of subscription) void message;
  };

  const waitForViolation = async (seen: string[], subject: string): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!seen.some((message) => permissionError.test(message) && message.includes(subject))) {
      if (Date.now() > deadline) throw new Error(`no permission violation for ${subject}; saw ${JSON.stringify(seen)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const adminInfo = async (nkeyFile: string, stream: string): ReturnType<JetStreamManager['streams']['info']> => {
    const nc = await connectAs(nkeyFile);
    return (await jetstreamManager(nc)).streams.info(stream);
  };
});

const storedEventsOf = async (db: import('pg').Pool, tenant: string): Promise<number> => {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM emt_messages WHERE message_metadata->>'tenant' = $1`, [tenant]);
  return Number(rows[0]!.n);
};
