// A reactor of the shop: for every confirmed cart it "sends" an order confirmation to the tenant's
// endpoint (SHOP_CONFIRMATIONS_URL/tenants/<tenant>/confirmations), carrying the message's idempotency
// key so that a repeat after a crash can be recognised there.
import { partitionedReactor } from '../../src/index.ts';
import type { ShoppingCartConfirmed } from '../../projections/index.ts';

export const orderConfirmations = partitionedReactor<ShoppingCartConfirmed>({
  processorId: 'order-confirmations',
  partitionBy: (event) => event.metadata.tenant,
  canHandle: ['ShoppingCartConfirmed'],
  eachMessage: async (event, { partition, idempotencyKey }) => {
    const response = await fetch(`${process.env.SHOP_CONFIRMATIONS_URL}/tenants/${encodeURIComponent(partition)}/confirmations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: JSON.stringify({ cartId: event.data.cartId, total: event.data.total }),
    });
    await response.text();
    if (!response.ok) throw new Error(`${partition}'s endpoint answered ${response.status}`);
  },
});
