import { pongoMultiStreamProjection } from '@event-driven-io/emmett-postgresql';
import { partitionedProjector } from '../src/index.ts';
import type { ShopEvent } from './shopEvents.ts';

export type TenantSales = { tenant: string; itemsAdded: number; confirmedCarts: number; revenue: number };

export const tenantSalesCollection = 'tenant_sales';

const evolve = (sales: TenantSales, event: ShopEvent): TenantSales => {
  switch (event.type) {
    case 'ProductItemAdded':
      return { ...sales, tenant: event.metadata.tenant, itemsAdded: sales.itemsAdded + event.data.quantity };
    case 'ShoppingCartConfirmed':
      return { ...sales, tenant: event.metadata.tenant, confirmedCarts: sales.confirmedCarts + 1, revenue: sales.revenue + event.data.total };
  }
};

/** One document per tenant, built from all of its carts' streams. */
export const tenantSales = partitionedProjector<ShopEvent>({
  processorId: 'tenant-sales',
  projection: pongoMultiStreamProjection({
    collectionName: tenantSalesCollection,
    getDocumentId: (event) => event.metadata.tenant,
    evolve,
    canHandle: ['ProductItemAdded', 'ShoppingCartConfirmed'],
    initialState: (): TenantSales => ({ tenant: '', itemsAdded: 0, confirmedCarts: 0, revenue: 0 }),
  }),
  partitionBy: (event) => event.metadata.tenant,
  batchSize: 200,
});
