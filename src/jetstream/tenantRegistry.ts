import { Kvm, type KV } from '@nats-io/kv';
import { limiter } from '../core/limiter.ts';
import type { TenantRegistryEntry } from './tenantStreams.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import { classifyError, describeFailure } from '../core/isTransientError.ts';
import type { Logger } from '../core/logger.ts';
import { retryUntilAborted } from '../core/retryUntilAborted.ts';
import { tenantRegistryBucket } from './streamNames.ts';

/**
 * The tenant registry, as a host reads it: created when missing, unless this host's NATS user may not
 * create streams (the host user `nats-config` generates only reads it); then waited for until the
 * relay has created it. Undefined when `signal` aborts first.
 */
export const openTenantRegistry = async (nc: NatsConnection, app: string, signal: AbortSignal, logger: Logger): Promise<KV | undefined> => {
  const kvm = new Kvm(nc);
  const bucket = tenantRegistryBucket(app);
  try {
    return await kvm.create(bucket, { history: 1 });
  } catch (error) {
    if (classifyError(error) !== 'permission') throw error;
  }
  return retryUntilAborted(() => kvm.open(bucket), {
    signal,
    onError: (error, count) => {
      if (classifyError(error) !== 'not-found') logger.warn(`cannot open the tenant registry ${bucket}`, { error: describeFailure(error), attempt: count });
      else if (count === 1) logger.info(`waiting for the relay to create the tenant registry ${bucket}`);
    },
  });
};

/** Every entry of the tenant registry: the tenants the relay has made a stream for. */
export const readTenantRegistry = async (registry: KV): Promise<TenantRegistryEntry[]> => {
  const tokens: string[] = [];
  for await (const token of await registry.keys()) tokens.push(token);
  const ask = limiter(32);
  const got = await Promise.all(tokens.map((token) => ask(() => registry.get(token))));
  return got.flatMap((entry) => (entry !== null && entry.operation === 'PUT' ? [entry.json<TenantRegistryEntry>()] : []));
};
