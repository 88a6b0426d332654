import { partitionedReactor } from '../../../src/index.ts';
import type { ItemAdded } from './ledger.ts';

/** Puts a confirmation for every ItemAdded in the outbox, in the transaction of its checkpoint. */
export const outboxConfirmations = partitionedReactor<ItemAdded>({
  processorId: 'outbox-confirmations',
  partitionBy: (event) => event.metadata.tenant as string,
  canHandle: ['ItemAdded'],
  eachBatch: async (messages, context) => {
    for (const message of messages) await context.emit({ topic: 'confirmations', payload: { tenant: context.partition, position: String(message.metadata.globalPosition) }, key: context.idempotencyKey(message) });
  },
  batchSize: 50,
});
