export {
  cartsSummary,
  cartsSummaryProjection,
  cartsSummaryBatchProjection,
  cartsSummaryCollection,
  cartSummaryId,
  emptyCartSummary,
  evolveCartSummary,
  type CartSummary,
} from './cartsSummary.js';
export { tenantSales, tenantSalesCollection, type TenantSales } from './tenantSales.js';
export type { ShopEvent, ProductItemAdded, ShoppingCartConfirmed } from './shopEvents.js';
