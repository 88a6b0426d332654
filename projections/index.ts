export {
  cartsSummary,
  cartsSummaryProjection,
  cartsSummaryBatchProjection,
  cartsSummaryCollection,
  cartSummaryId,
  emptyCartSummary,
  evolveCartSummary,
  type CartSummary,
} from './cartsSummary.ts';
export { tenantSales, tenantSalesCollection, type TenantSales } from './tenantSales.ts';
export type { ShopEvent, ProductItemAdded, ShoppingCartConfirmed } from './shopEvents.ts';
