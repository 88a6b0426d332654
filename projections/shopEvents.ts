import type { Event } from '@event-driven-io/emmett';

export type TenantMetadata = { tenant: string };

export type ProductItemAdded = Event<
  'ProductItemAdded',
  { cartId: string; productId: string; quantity: number; unitPrice: number },
  TenantMetadata
>;
export type ShoppingCartConfirmed = Event<'ShoppingCartConfirmed', { cartId: string; total: number }, TenantMetadata>;

export type ShopEvent = ProductItemAdded | ShoppingCartConfirmed;
