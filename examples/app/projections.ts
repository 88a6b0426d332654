import type { Event } from '@event-driven-io/emmett';
import { pongoMultiStreamProjection } from '@event-driven-io/emmett-postgresql';
import { partitionedProjector, pongoBatchProjection } from 'distributary';

type TenantMetadata = { tenant: string };
export type Deposited = Event<'Deposited', { accountId: string; amount: number }, TenantMetadata>;
export type Withdrawn = Event<'Withdrawn', { accountId: string; amount: number }, TenantMetadata>;
export type AccountEvent = Deposited | Withdrawn;

export type Account = { tenant: string; accountId: string; balance: number };
export type TenantTotals = { tenant: string; balance: number; transactions: number };

const amountOf = (event: AccountEvent): number => (event.type === 'Deposited' ? event.data.amount : -event.data.amount);

/** One document per account, a tenant's batch of events read and written in one statement each. */
export const accounts = partitionedProjector<AccountEvent>({
  processorId: 'accounts',
  projection: pongoBatchProjection({
    collectionName: 'accounts',
    canHandle: ['Deposited', 'Withdrawn'],
    getDocumentId: (event) => `${event.metadata.tenant}:${event.data.accountId}`,
    evolve: (account: Account, event: AccountEvent) => ({
      tenant: event.metadata.tenant,
      accountId: event.data.accountId,
      balance: account.balance + amountOf(event),
    }),
    initialState: () => ({ tenant: '', accountId: '', balance: 0 }),
  }),
  partitionBy: (event) => event.metadata.tenant,
});

/** One document per tenant, folded from all of its accounts' streams by a plain Emmett projection. */
export const tenantTotals = partitionedProjector<AccountEvent>({
  processorId: 'tenant-totals',
  projection: pongoMultiStreamProjection({
    collectionName: 'tenant_totals',
    canHandle: ['Deposited', 'Withdrawn'],
    getDocumentId: (event) => event.metadata.tenant,
    evolve: (totals: TenantTotals, event: AccountEvent) => ({
      tenant: event.metadata.tenant,
      balance: totals.balance + amountOf(event),
      transactions: totals.transactions + 1,
    }),
    initialState: () => ({ tenant: '', balance: 0, transactions: 0 }),
  }),
  partitionBy: (event) => event.metadata.tenant,
  placement: { type: 'hash', workers: 2 },
});
