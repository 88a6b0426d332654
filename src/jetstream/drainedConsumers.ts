import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { limiter } from '../core/limiter.ts';
import { readTenantRegistry } from './tenantRegistry.ts';
import { durableName } from './tenantToken.ts';

/** How many consumer infos are asked for at once. */
const Parallel = 32;

export type ConsumerToDrain = { tenant: string; stream: string; processorId: string; durable: string };

/** Every (tenant stream, projector) pair of the registry, as its durable consumer. */
export const consumersToDrain = async (registry: KV, processorIds: readonly string[]): Promise<ConsumerToDrain[]> => {
  const entries = await readTenantRegistry(registry);
  return entries.flatMap(({ tenant, stream }) => processorIds.map((processorId) => ({ tenant, stream, processorId, durable: durableName(processorId) })));
};

/**
 * The pairs whose consumer has not yet delivered and seen acked every message of its stream (a missing
 * consumer counts as not drained). Acks follow commits, so a drained consumer's partition has
 * committed everything its stream held.
 */
export const undrainedConsumers = async (jsm: JetStreamManager, pairs: readonly ConsumerToDrain[]): Promise<ConsumerToDrain[]> => {
  const ask = limiter(Parallel);
  const infos = await Promise.all(pairs.map((pair) => ask(() => jsm.consumers.info(pair.stream, pair.durable).catch(() => undefined))));
  return pairs.filter((_, i) => {
    const info = infos[i];
    return info === undefined || info.num_pending > 0 || info.num_ack_pending > 0;
  });
};
