import { partitionedReactor } from '../../../src/index.ts';
import type { ItemAdded } from './ledger.ts';

/** Posts every ItemAdded to the test's receiver (REACTOR_RECEIVER), carrying its idempotency key. */
export const confirmations = partitionedReactor<ItemAdded>({
  processorId: 'confirmations',
  partitionBy: (event) => event.metadata.tenant as string,
  canHandle: ['ItemAdded'],
  onError: { retries: 2, backoff: { initialMs: 20, maxMs: 100 } },
  eachMessage: async (message, context) => {
    const response = await fetch(`${process.env.REACTOR_RECEIVER}/effects`, {
      method: 'POST',
      body: JSON.stringify({ tenant: context.partition, position: String(message.metadata.globalPosition), key: context.idempotencyKey }),
    });
    await response.text();
    if (!response.ok) throw new Error(`the receiver refused ${context.idempotencyKey}`);
  },
});
