import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolateTenants, tenantIsolationSql, withTenant } from '../../src/index.ts';
import { appendWorkload, shopWorkload } from '../../examples/shop/shopWorkload.ts';
import { useTestDatabase } from '../support/database.ts';
import { runUntilCaughtUp } from '../support/runEngine.ts';
import { appendLedgerEvents, foldFromStore, readModelTotals } from '../support/workload.ts';

const projection = (name: string): URL => new URL(`../support/projections/${name}.ts`, import.meta.url);

describe('read models a tenant cannot leave', () => {
  const database = useTestDatabase();
  const suffix = randomUUID().replaceAll('-', '').slice(0, 10);
  const role = `reader_${suffix}`;
  const login = `app_${suffix}`;
  let reader: pg.Pool;
  let tenants: string[];
  const readModels = [
    { collection: 'carts_summary', field: 'tenant' },
    { table: 'ledger_totals', column: 'tenant' },
  ] as const;

  beforeAll(async () => {
    const { connectionString, db } = database;
    await appendWorkload(connectionString, shopWorkload({ tenants: 6, events: 800, seed: 141 }), () => undefined, 4);
    await appendLedgerEvents(connectionString, { tenants: 6, carts: 12, events: 600, seed: 142, tenantName: (i) => `shop-00${i + 1}` });
    await runUntilCaughtUp(connectionString, projection('documents'));
    await runUntilCaughtUp(connectionString, projection('hashLedger'));
    await isolateTenants({ connectionString, readModels: [...readModels], role });
    // The application reads with a login of its own, a member of the reader role.
    await db.query(`CREATE ROLE ${login} LOGIN PASSWORD 'app' IN ROLE ${role}`);
    const url = new URL(connectionString);
    url.username = login;
    url.password = 'app';
    reader = new pg.Pool({ connectionString: url.toString(), max: 2 });
    tenants = (await db.query<{ tenant: string }>("SELECT DISTINCT data->>'tenant' AS tenant FROM carts_summary ORDER BY 1")).rows.map((r) => r.tenant);
  });
  afterAll(async () => {
    await reader?.end();
    await database.db.query(`DROP OWNED BY ${login}, ${role}`).catch(() => undefined);
    await database.db.query(`DROP ROLE IF EXISTS ${login}`).catch(() => undefined);
    await database.db.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  });

  const countsByTenant = async (client: pg.Pool | pg.PoolClient, sql: string, params: unknown[] = []): Promise<Record<string, number>> =>
    Object.fromEntries((await client.query<{ tenant: string; n: string }>(sql, params)).rows.map((r) => [r.tenant, Number(r.n)]));

  it('returns nothing to a query without the tenant set', async () => {
    expect(tenants.length).toBeGreaterThan(2);
    expect((await reader.query('SELECT count(*)::int AS n FROM carts_summary')).rows[0]).toEqual({ n: 0 });
    expect((await reader.query('SELECT count(*)::int AS n FROM ledger_totals')).rows[0]).toEqual({ n: 0 });
  });

  it("cannot see another tenant's rows with one tenant set, whatever its WHERE clause", async () => {
    const [a, b] = [tenants[0]!, tenants[1]!];
    const owner = await countsByTenant(database.db, "SELECT data->>'tenant' AS tenant, count(*) AS n FROM carts_summary GROUP BY 1");
    const ledgerOwner = await countsByTenant(database.db, 'SELECT tenant, count(*) AS n FROM ledger_totals GROUP BY 1');
    expect(owner[b]).toBeGreaterThan(0);
    const seen = await withTenant(reader, a, (client) =>
      countsByTenant(client, "SELECT data->>'tenant' AS tenant, count(*) AS n FROM carts_summary WHERE data->>'tenant' = $1 OR true GROUP BY 1", [b]),
      // The login is the reader already: no role to switch to.
      { role: false },
    );
    expect(seen).toEqual({ [a]: owner[a] });
    const ledger = await withTenant(reader, a, (client) => countsByTenant(client, 'SELECT tenant, count(*) AS n FROM ledger_totals WHERE tenant = $1 OR tenant IS NOT NULL GROUP BY 1', [b]), {
      role: false,
    });
    expect(ledger).toEqual({ [a]: ledgerOwner[a] });
    // The setting ends with the transaction: the next query on the same connections sees nothing again.
    expect((await reader.query('SELECT count(*)::int AS n FROM carts_summary')).rows[0]).toEqual({ n: 0 });
  });

  it("switches the owner's own pool to the reader role for the transaction", async () => {
    const [a, b] = [tenants[2]!, tenants[0]!];
    const seen = await withTenant(database.db, a, (client) => countsByTenant(client, 'SELECT tenant, count(*) AS n FROM ledger_totals WHERE tenant = $1 OR tenant = $2 GROUP BY 1', [a, b]), { role });
    expect(Object.keys(seen)).toEqual([a]);
    // Still the owner outside of it.
    expect(Object.keys(await countsByTenant(database.db, 'SELECT tenant, count(*) AS n FROM ledger_totals GROUP BY 1')).length).toBe(tenants.length);
  });

  it("leaves the engine, the tables' owner, writing as before", async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: 6, carts: 12, events: 300, seed: 143, tenantName: (i) => `shop-00${i + 1}` });
    await runUntilCaughtUp(connectionString, projection('hashLedger'));
    expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
  });

  it('refuses names that are not plain identifiers, and a tenant that is not a key', async () => {
    expect(() => tenantIsolationSql([{ table: 'ledger_totals; DROP TABLE x', column: 'tenant' }])).toThrow(
      'tenantIsolation: a read model table must be a plain SQL identifier (letters, digits, _ and $, up to 63), got "ledger_totals; DROP TABLE x"',
    );
    expect(() => tenantIsolationSql([{ collection: 'carts', field: '' }])).toThrow('tenantIsolation: the partition field of collection carts must be a document field name');
    await expect(withTenant(reader, '', () => Promise.resolve(1))).rejects.toThrow('withTenant: the tenant must be a non-empty partition key, got ""');
    // A field name with a quote is a value in the policy, not SQL.
    expect(tenantIsolationSql([{ collection: 'carts', field: "x') OR (true" }], role).at(-1)).toContain("(data ->> 'x'') OR (true')");
  });
});
