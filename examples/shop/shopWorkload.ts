import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import type { ShopEvent, TenantSales } from '../../projections/index.ts';

export type Workload = { carts: { stream: string; events: ShopEvent[] }[]; expected: Map<string, TenantSales>; events: number };

/**
 * A multi-tenant shop: tenant sizes follow a Zipf curve by default (a few big shops, a long tail of
 * small ones); each cart gets 1-6 items and 70% of carts are confirmed. Deterministic for a seed.
 */
export const shopWorkload = (options: { tenants: number; events: number; seed?: number; skew?: 'zipf' | 'uniform' }): Workload => {
  let seed = options.seed ?? 42;
  const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const weights = Array.from({ length: options.tenants }, (_, i) => (options.skew === 'uniform' ? 1 : 1 / (i + 1)));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const pickTenant = (): string => {
    let pick = random() * totalWeight;
    for (let i = 0; i < weights.length; i++) if ((pick -= weights[i]!) <= 0) return `shop-${String(i + 1).padStart(3, '0')}`;
    return `shop-${String(options.tenants).padStart(3, '0')}`;
  };

  const carts: Workload['carts'] = [];
  const expected = new Map<string, TenantSales>();
  let events = 0;
  for (let cart = 0; events < options.events; cart++) {
    const tenant = pickTenant();
    const cartId = `cart-${cart}`;
    const metadata = { tenant };
    const sales = expected.get(tenant) ?? { tenant, itemsAdded: 0, confirmedCarts: 0, revenue: 0 };
    const stream: ShopEvent[] = [];
    let total = 0;
    for (let item = 1 + Math.floor(random() * 6); item > 0; item--) {
      const quantity = 1 + Math.floor(random() * 3);
      const unitPrice = 5 + Math.floor(random() * 95);
      total += quantity * unitPrice;
      sales.itemsAdded += quantity;
      stream.push({ type: 'ProductItemAdded', data: { cartId, productId: `product-${Math.floor(random() * 500)}`, quantity, unitPrice }, metadata });
    }
    if (random() < 0.7) {
      stream.push({ type: 'ShoppingCartConfirmed', data: { cartId, total }, metadata });
      sales.confirmedCarts++;
      sales.revenue += total;
    }
    expected.set(tenant, sales);
    carts.push({ stream: `shopping_cart-${tenant}-${cartId}`, events: stream });
    events += stream.length;
  }
  return { carts, expected, events };
};

/** Appends the workload's carts, `parallel` appends at a time, reporting how many events are in. */
export const appendWorkload = async (
  connectionString: string,
  workload: Workload,
  onProgress: (appended: number) => void,
  parallel = 8,
): Promise<void> => {
  const store = getPostgreSQLEventStore(connectionString);
  try {
    let appended = 0;
    for (let i = 0; i < workload.carts.length; i += parallel) {
      const chunk = workload.carts.slice(i, i + parallel);
      await Promise.all(chunk.map((cart) => store.appendToStream<ShopEvent>(cart.stream, cart.events)));
      appended += chunk.reduce((sum, cart) => sum + cart.events.length, 0);
      onProgress(appended);
    }
  } finally {
    await store.close();
  }
};
