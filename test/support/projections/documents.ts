import { pongoSingleStreamProjection } from '@event-driven-io/emmett-postgresql';
import { partitionedProjector, pongoBatchProjection, type PartitionedProjectorOptions } from '../../../src/index.ts';
import { cartsSummaryBatchProjection, cartsSummaryProjection, cartSummaryId, emptyCartSummary, evolveCartSummary, type CartSummary, type ShopEvent } from '../../../projections/index.ts';

/** Carts that are still open: a confirmed cart's document is deleted (evolve returns null). */
const openCart = (summary: CartSummary, event: ShopEvent): CartSummary | null => (event.type === 'ShoppingCartConfirmed' ? null : evolveCartSummary(summary, event));
const openCarts = { getDocumentId: cartSummaryId, evolve: openCart, canHandle: ['ProductItemAdded', 'ShoppingCartConfirmed'] as ShopEvent['type'][], initialState: emptyCartSummary };

const partitioned = (processorId: string, projection: PartitionedProjectorOptions<ShopEvent>['projection']) =>
  partitionedProjector<ShopEvent>({ processorId, projection, partitionBy: (event) => event.metadata.tenant, placement: { type: 'hash', workers: 2 }, batchSize: 200 });

/** The same documents through Emmett's Pongo projection and through the batch-aware one. */
export const documentProjectors = [
  partitioned('docs-emmett', cartsSummaryProjection),
  partitioned('docs-batch', cartsSummaryBatchProjection('carts_summary_batch')),
  partitioned('open-emmett', pongoSingleStreamProjection({ collectionName: 'open_carts', ...openCarts })),
  partitioned('open-batch', pongoBatchProjection({ collectionName: 'open_carts_batch', ...openCarts })),
];
