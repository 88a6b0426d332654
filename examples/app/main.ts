import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { pongoClient } from '@event-driven-io/pongo';
import { projectionEngine } from 'distributary';
import type { Account, AccountEvent, TenantTotals } from './projections.ts';

const connectionString = process.env.DATABASE_URL;
if (connectionString === undefined) throw new Error('Set DATABASE_URL to a PostgreSQL database, e.g. postgres://postgres:postgres@localhost:5432/postgres');

// Some events for a few tenants; each run appends them again.
const eventStore = getPostgreSQLEventStore(connectionString);
const append = (tenant: string, accountId: string, ...amounts: number[]): Promise<unknown> =>
  eventStore.appendToStream<AccountEvent>(
    `account-${tenant}-${accountId}`,
    amounts.map((amount) => ({
      type: amount >= 0 ? 'Deposited' : 'Withdrawn',
      data: { accountId, amount: Math.abs(amount) },
      metadata: { tenant },
    })),
  );
await append('acme', 'checking', 100, -30, 45);
await append('acme', 'savings', 500);
await append('globex', 'checking', 20, 20, -5);
await append('initech', 'checking', 75, -75, 10);
await eventStore.close();

// Worker threads import the projectors module themselves, so the engine gets its URL.
const engine = projectionEngine({ connectionString, projectors: new URL('./projections.ts', import.meta.url) });
await engine.start();
await engine.whenCaughtUp({ timeoutMs: 30_000 });
await engine.stop();

const pongo = pongoClient(connectionString);
const totals = await pongo.db().collection<TenantTotals>('tenant_totals').find({});
const accounts = await pongo.db().collection<Account>('accounts').find({});
for (const { tenant, balance, transactions } of totals.sort((a, b) => a.tenant.localeCompare(b.tenant))) {
  const balances = Object.fromEntries(accounts.filter((a) => a.tenant === tenant).map((a) => [a.accountId, a.balance]));
  console.log(JSON.stringify({ tenant, balance, transactions, accounts: balances }));
}
await pongo.close();
