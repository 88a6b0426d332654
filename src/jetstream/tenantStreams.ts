import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { nanos } from '@nats-io/transport-node';
import type { ResolvedRelayOptions } from './relayOptions.ts';
import { tenantStreamNames, type TenantStreamNames } from './streamNames.ts';

export type TenantRegistryEntry = { tenant: string; stream: string; subjects: string; createdAt: string };

/**
 * Creates each tenant's stream the first time the tenant is seen and records it in the tenant
 * registry (a KV bucket hosts watch), once per process; both steps are idempotent, so a relay that
 * dies between them simply does them again.
 */
export const tenantStreams = (jsm: JetStreamManager, registry: KV, options: ResolvedRelayOptions) => {
  const known = new Map<string, TenantStreamNames>();
  return {
    /** A removed tenant: its stream (and its consumers) and its registry entry go; idempotent. */
    async remove(tenant: string): Promise<void> {
      const names = tenantStreamNames(options.app, tenant);
      await jsm.streams.delete(names.stream).catch(() => undefined);
      await registry.delete(names.token).catch(() => undefined);
      known.delete(tenant);
    },
    /** Tenant streams this process has published to. */
    count: (): number => known.size,
    async ensure(tenant: string): Promise<TenantStreamNames> {
      const existing = known.get(tenant);
      if (existing !== undefined) return existing;
      const names = tenantStreamNames(options.app, tenant);
      const limits = options.limits(tenant);
      const config = {
        name: names.stream,
        subjects: [names.subjects],
        max_age: nanos(limits.maxAgeMs),
        max_msgs: limits.maxMessages,
        max_bytes: limits.maxBytes,
        num_replicas: limits.replicas,
        storage: limits.storage,
        duplicate_window: nanos(limits.duplicateWindowMs),
      };
      try {
        await jsm.streams.info(names.stream);
      } catch {
        await jsm.streams.add(config);
      }
      const entry: TenantRegistryEntry = { tenant, stream: names.stream, subjects: names.subjects, createdAt: new Date().toISOString() };
      await registry.put(names.token, JSON.stringify(entry));
      known.set(tenant, names);
      return names;
    },
  };
};
