import { pongoMultiStreamProjection, pongoSingleStreamProjection, type PostgreSQLProjectionDefinition } from '@event-driven-io/emmett-postgresql';
import type { ShopEvent } from '../projections/shopEvents.ts';

// Five ordinary Pongo projections a shop keeps over the same events, as an application would write
// them for Emmett. Every document is keyed within one tenant, so partitioning by tenant keeps them exact.

/** The collection (table) each projection writes. */
export const FiveCollections = {
  cartDetails: 'bench_cart_details',
  customerCarts: 'bench_customer_carts',
  tenantSales: 'bench_tenant_sales',
  productPopularity: 'bench_product_popularity',
  dailyOrders: 'bench_daily_orders',
} as const;

/*
 * The workload's events carry no customer and no date: a cart's number stands in for both (the same
 * in every copy of the store), so that "per customer" and "per day" documents exist.
 */
const cartNumber = (cartId: string): number => Number(cartId.slice(cartId.lastIndexOf('-') + 1));
const customerOf = (cartId: string): string => `customer-${String(cartNumber(cartId) % 97).padStart(2, '0')}`;
const orderDayOf = (cartId: string): string => `2026-02-${String(1 + (cartNumber(cartId) % 28)).padStart(2, '0')}`;

export type CartLine = { productId: string; quantity: number; unitPrice: number };
export type CartDetails = { tenant: string; cartId: string; customer: string; status: 'open' | 'confirmed'; lines: CartLine[]; itemsCount: number; total: number };

/** One document per cart stream (Emmett's default id, the stream name): its lines merged by product and price. */
export const cartDetailsProjection = pongoSingleStreamProjection({
  collectionName: FiveCollections.cartDetails,
  canHandle: ['ProductItemAdded', 'ShoppingCartConfirmed'],
  evolve: (document: CartDetails | null, event: ShopEvent): CartDetails | null => {
    const cart = document ?? { tenant: event.metadata.tenant, cartId: event.data.cartId, customer: customerOf(event.data.cartId), status: 'open', lines: [], itemsCount: 0, total: 0 };
    if (event.type === 'ShoppingCartConfirmed') return { ...cart, status: 'confirmed', total: event.data.total };
    const { productId, quantity, unitPrice } = event.data;
    const existing = cart.lines.find((line) => line.productId === productId && line.unitPrice === unitPrice);
    const lines = existing === undefined
      ? [...cart.lines, { productId, quantity, unitPrice }]
      : cart.lines.map((line) => (line === existing ? { ...line, quantity: line.quantity + quantity } : line));
    return { ...cart, lines, itemsCount: cart.itemsCount + quantity, total: cart.total + quantity * unitPrice };
  },
});

export type CustomerCarts = { tenant: string; customer: string; itemsAdded: number; confirmedCarts: number; spent: number; lastCartId: string };

/** One document per customer of a tenant, over all of their carts. */
export const customerCartsProjection = pongoMultiStreamProjection({
  collectionName: FiveCollections.customerCarts,
  canHandle: ['ProductItemAdded', 'ShoppingCartConfirmed'],
  getDocumentId: (event: ShopEvent) => `${event.metadata.tenant}:${customerOf(event.data.cartId)}`,
  initialState: (): CustomerCarts => ({ tenant: '', customer: '', itemsAdded: 0, confirmedCarts: 0, spent: 0, lastCartId: '' }),
  evolve: (summary: CustomerCarts, event: ShopEvent): CustomerCarts => {
    const owner = { ...summary, tenant: event.metadata.tenant, customer: customerOf(event.data.cartId), lastCartId: event.data.cartId };
    return event.type === 'ProductItemAdded'
      ? { ...owner, itemsAdded: summary.itemsAdded + event.data.quantity }
      : { ...owner, confirmedCarts: summary.confirmedCarts + 1, spent: summary.spent + event.data.total };
  },
});

export type TenantSalesTotals = { tenant: string; itemsAdded: number; confirmedCarts: number; revenue: number; averageOrder: number };

/** One document per tenant: everything it sold. */
export const tenantSalesTotalsProjection = pongoMultiStreamProjection({
  collectionName: FiveCollections.tenantSales,
  canHandle: ['ProductItemAdded', 'ShoppingCartConfirmed'],
  getDocumentId: (event: ShopEvent) => event.metadata.tenant,
  initialState: (): TenantSalesTotals => ({ tenant: '', itemsAdded: 0, confirmedCarts: 0, revenue: 0, averageOrder: 0 }),
  evolve: (totals: TenantSalesTotals, event: ShopEvent): TenantSalesTotals => {
    if (event.type === 'ProductItemAdded') return { ...totals, tenant: event.metadata.tenant, itemsAdded: totals.itemsAdded + event.data.quantity };
    const confirmedCarts = totals.confirmedCarts + 1;
    const revenue = totals.revenue + event.data.total;
    return { ...totals, tenant: event.metadata.tenant, confirmedCarts, revenue, averageOrder: Math.round(revenue / confirmedCarts) };
  },
});

export type ProductPopularity = { tenant: string; productId: string; timesAdded: number; quantity: number; revenue: number };

/** One document per product of a tenant: how often and how much of it went into carts. */
export const productPopularityProjection = pongoMultiStreamProjection({
  collectionName: FiveCollections.productPopularity,
  canHandle: ['ProductItemAdded'],
  getDocumentId: (event: ShopEvent) => `${event.metadata.tenant}:${event.type === 'ProductItemAdded' ? event.data.productId : ''}`,
  initialState: (): ProductPopularity => ({ tenant: '', productId: '', timesAdded: 0, quantity: 0, revenue: 0 }),
  evolve: (product: ProductPopularity, event: ShopEvent): ProductPopularity =>
    event.type !== 'ProductItemAdded'
      ? product
      : {
          tenant: event.metadata.tenant,
          productId: event.data.productId,
          timesAdded: product.timesAdded + 1,
          quantity: product.quantity + event.data.quantity,
          revenue: product.revenue + event.data.quantity * event.data.unitPrice,
        },
});

export type DailyOrders = { tenant: string; day: string; orders: number; revenue: number };

/** One document per tenant and day: confirmed orders and their revenue. */
export const dailyOrdersProjection = pongoMultiStreamProjection({
  collectionName: FiveCollections.dailyOrders,
  canHandle: ['ShoppingCartConfirmed'],
  getDocumentId: (event: ShopEvent) => `${event.metadata.tenant}:${orderDayOf(event.data.cartId)}`,
  initialState: (): DailyOrders => ({ tenant: '', day: '', orders: 0, revenue: 0 }),
  evolve: (daily: DailyOrders, event: ShopEvent): DailyOrders =>
    event.type !== 'ShoppingCartConfirmed'
      ? daily
      : { tenant: event.metadata.tenant, day: orderDayOf(event.data.cartId), orders: daily.orders + 1, revenue: daily.revenue + event.data.total },
});

/** The five, by a short name each (processor ids are made from it), with the collection each writes. */
export const fiveProjections: { name: string; collection: string; projection: PostgreSQLProjectionDefinition<ShopEvent> }[] = [
  { name: 'cart-details', collection: FiveCollections.cartDetails, projection: cartDetailsProjection },
  { name: 'customer-carts', collection: FiveCollections.customerCarts, projection: customerCartsProjection },
  { name: 'tenant-sales', collection: FiveCollections.tenantSales, projection: tenantSalesTotalsProjection },
  { name: 'product-popularity', collection: FiveCollections.productPopularity, projection: productPopularityProjection },
  { name: 'daily-orders', collection: FiveCollections.dailyOrders, projection: dailyOrdersProjection },
];
