import pg from 'pg';
import { ConfigurationError } from '../core/errors.ts';
import { inTransaction } from '../postgres/inTransaction.ts';
import { MigrationLockId } from '../postgres/migrate.ts';

/*
 * Read models a tenant cannot leave, enforced by PostgreSQL: row-level security on each read-model
 * table, keyed by the partition, for a reader role. A query run as that role sees only the rows of
 * the tenant set for its transaction (`withTenant`), whatever its WHERE clause, and nothing when none
 * is set. The engine writes as the tables' owner, which row-level security leaves alone (the tables
 * are not FORCEd), so projections and rebuilds run as before.
 *
 *   tenant set for the transaction:   SELECT set_config('distributary.tenant', $1, true)
 *   policy on a table:                USING (<partition expression> = current_setting('distributary.tenant', true))
 */

/** The setting that names the transaction's tenant. */
export const TenantSetting = 'distributary.tenant';
export const DefaultReaderRole = 'distributary_reader';
const PolicyName = 'distributary_tenant_isolation';

/** A table with a column holding the partition key, or a Pongo collection whose documents hold it in a field. */
export type IsolatedReadModel = { table: string; column: string } | { collection: string; field: string };

export type TenantIsolationOptions = {
  connectionString: string;
  readModels: readonly IsolatedReadModel[];
  /** The role the application reads as (a login of its own, or a role `withTenant` switches to). Created when missing. @default 'distributary_reader' */
  role?: string;
};

const identifier = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const quoted = (name: string, what: string): string => {
  if (typeof name !== 'string' || !identifier.test(name)) throw new ConfigurationError(`tenantIsolation: ${what} must be a plain SQL identifier (letters, digits, _ and $, up to 63), got ${JSON.stringify(name)}`);
  return `"${name}"`;
};
const literal = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/** The table and the expression that gives a row's partition key. */
const keyOf = (model: IsolatedReadModel): { table: string; key: string } => {
  if ('table' in model) return { table: quoted(model.table, 'a read model table'), key: quoted(model.column, `the partition column of ${model.table}`) };
  if ('collection' in model) {
    if (typeof model.field !== 'string' || model.field === '') throw new ConfigurationError(`tenantIsolation: the partition field of collection ${model.collection} must be a document field name`);
    return { table: quoted(model.collection, 'a Pongo collection'), key: `(data ->> ${literal(model.field)})` };
  }
  throw new ConfigurationError(`tenantIsolation: a read model is { table, column } or { collection, field }, got ${JSON.stringify(model)}`);
};

/** The statements that isolate `readModels` for `role`; each can run again without harm. */
export const tenantIsolationSql = (readModels: readonly IsolatedReadModel[], role: string = DefaultReaderRole): string[] => {
  const reader = quoted(role, 'options.role');
  return [
    `DO $$ BEGIN CREATE ROLE ${reader} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
    // The owner may switch to the reader (withTenant does, inside its transaction).
    `GRANT ${reader} TO CURRENT_USER`,
    ...readModels.flatMap((model) => {
      const { table, key } = keyOf(model);
      return [
        `GRANT SELECT ON ${table} TO ${reader}`,
        `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`,
        `DROP POLICY IF EXISTS ${PolicyName} ON ${table}`,
        `CREATE POLICY ${PolicyName} ON ${table} FOR SELECT TO ${reader} USING (${key} = current_setting('${TenantSetting}', true))`,
      ];
    }),
  ];
};

/**
 * Puts the policies in place (in one transaction, under the migration lock); tables must exist (start
 * the engine once, or create them). Run it at deploy time, as the tables' owner.
 */
export const isolateTenants = async (options: TenantIsolationOptions): Promise<void> => {
  if (typeof options.connectionString !== 'string' || options.connectionString === '') throw new ConfigurationError('tenantIsolation: options.connectionString must be a PostgreSQL connection string');
  if (!Array.isArray(options.readModels) || options.readModels.length === 0) throw new ConfigurationError('tenantIsolation: options.readModels must list at least one read model');
  const statements = tenantIsolationSql(options.readModels, options.role);
  const db = new pg.Pool({ connectionString: options.connectionString, max: 1 });
  try {
    await inTransaction(db, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MigrationLockId]);
      for (const statement of statements) await client.query(statement);
    });
  } finally {
    await db.end();
  }
};

/**
 * Runs `fn` in a transaction whose queries see only `tenant`'s rows of the isolated read models: the
 * tenant is set for the transaction and, unless the pool already logs in as a reader, the role is
 * switched to the reader role for it. Commits when `fn` resolves, rolls back when it throws.
 */
export const withTenant = async <T>(pool: pg.Pool, tenant: string, fn: (client: pg.PoolClient) => Promise<T>, options: { role?: string | false } = {}): Promise<T> => {
  if (typeof tenant !== 'string' || tenant === '') throw new ConfigurationError(`withTenant: the tenant must be a non-empty partition key, got ${JSON.stringify(tenant)}`);
  const role = options.role === undefined ? DefaultReaderRole : options.role;
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT set_config('${TenantSetting}', $1, true)`, [tenant]);
    if (role !== false) await client.query(`SET LOCAL ROLE ${quoted(role, 'options.role')}`);
    return fn(client);
  });
};
