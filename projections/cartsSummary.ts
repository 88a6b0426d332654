import { pongoSingleStreamProjection } from '@event-driven-io/emmett-postgresql';
import { partitionedProjector, pongoBatchProjection } from '../src/index.ts';
import type { ShopEvent } from './shopEvents.ts';

export type CartSummary = { tenant: string; cartId: string; status: 'open' | 'confirmed'; itemsCount: number; total: number };

export const cartsSummaryCollection = 'carts_summary';

export const evolveCartSummary = (summary: CartSummary, event: ShopEvent): CartSummary => {
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
export const cartSummaryId = (event: ShopEvent): string => `${event.metadata.tenant}:${event.data.cartId}`;
export const emptyCartSummary = (): CartSummary => ({ tenant: '', cartId: '', status: 'open', itemsCount: 0, total: 0 });

export const cartsSummaryProjection = pongoSingleStreamProjection({
  collectionName: cartsSummaryCollection,
  getDocumentId: cartSummaryId,
  evolve: evolveCartSummary,
  canHandle: ['ProductItemAdded', 'ShoppingCartConfirmed'],
  initialState: emptyCartSummary,
});

/** The same documents, written a partition batch at a time (one read, one write per batch). */
export const cartsSummaryBatchProjection = (collectionName: string) =>
  pongoBatchProjection({
    collectionName,
    getDocumentId: cartSummaryId,
    evolve: evolveCartSummary,
    canHandle: ['ProductItemAdded', 'ShoppingCartConfirmed'],
    initialState: emptyCartSummary,
    // Documents name their tenant: one tenant's can be deleted, and rebuilt.
    partitionField: 'tenant',
  });

/** The same projection, partitioned by tenant: carts of one tenant in order, tenants in parallel. */
export const cartsSummary = partitionedProjector<ShopEvent>({
  processorId: 'carts-summary',
  projection: cartsSummaryProjection,
  partitionBy: (event) => event.metadata.tenant,
  batchSize: 200,
});
