import { pongoSingleStreamProjection } from '@event-driven-io/emmett-postgresql';
import { partitionedProjector } from 'distributary';
import type { ShopEvent } from './shopEvents.js';

export type CartSummary = { tenant: string; cartId: string; status: 'open' | 'confirmed'; itemsCount: number; total: number };

export const cartsSummaryCollection = 'carts_summary';

const evolve = (summary: CartSummary, event: ShopEvent): CartSummary => {
  switch (event.type) {
    case 'ProductItemAdded':
      return {
        ...summary,
        tenant: event.metadata.tenant,
        cartId: event.data.cartId,
        itemsCount: summary.itemsCount + event.data.quantity,
        total: summary.total + event.data.quantity * event.data.unitPrice,
      };
    case 'ShoppingCartConfirmed':
      return { ...summary, status: 'confirmed' };
  }
};

/** A plain Emmett Pongo projection: one document per cart. */
export const cartsSummaryProjection = pongoSingleStreamProjection({
  collectionName: cartsSummaryCollection,
  getDocumentId: (event: ShopEvent) => `${event.metadata.tenant}:${event.data.cartId}`,
  evolve,
  canHandle: ['ProductItemAdded', 'ShoppingCartConfirmed'],
  initialState: (): CartSummary => ({ tenant: '', cartId: '', status: 'open', itemsCount: 0, total: 0 }),
});

/** The same projection, partitioned by tenant: carts of one tenant in order, tenants in parallel. */
export const cartsSummary = partitionedProjector<ShopEvent>({
  processorId: 'carts-summary',
  projection: cartsSummaryProjection,
  partitionBy: (event) => event.metadata.tenant,
  placement: { type: 'hash', workers: 2 },
  batchSize: 200,
});
