import { AckPolicy, DeliverPolicy, type ConsumerConfig } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { abortableSleep } from '../core/abortableSleep.ts';
import { backoffDelay, DefaultBackoff } from '../core/backoff.ts';
import { toErrorInfo } from '../core/errors.ts';
import type { Limiter } from '../core/limiter.ts';
import type { Logger } from '../core/logger.ts';
import type { Position } from '../core/position.ts';
import type { PositionedEvent } from '../postgres/readEventBatch.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import type { ConsumerBudget } from './consumerBudget.ts';
import { natsPartitionStream } from './natsPartitionStream.ts';
import { partitionConsumption } from './partitionConsumption.ts';
import type { TenantRegistryEntry } from './tenantStreams.ts';
import type { StreamActivity } from './streamActivity.ts';
import { durableName } from './tenantToken.ts';

export { SleepAfterMs } from './partitionConsumption.ts';

/** How often the whole registry is listed, for tenants the watch missed (also after every reconnect). */
const RegistryListingMs = 30_000;
import { DefaultAckWaitMs } from '../options/defaults.ts';

/** The durable pull consumer of one projector on a tenant stream. */
export const consumerConfig = (projector: Pick<AnyPartitionedProjector, 'processorId' | 'batchSize'>, ackWaitMs = DefaultAckWaitMs): Partial<ConsumerConfig> & { durable_name: string } => ({
  durable_name: durableName(projector.processorId),
  // Every message is acked on its own: with redeliveries, delivery order is not stream order, and an
  // ack-all of one delivery would also ack later messages delivered before it and not yet committed.
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  // One batch in flight and the next one already here.
  max_ack_pending: projector.batchSize * 2,
  ack_wait: nanos(ackWaitMs),
});

export type ConsumePartitionContext = {
  nc: NatsConnection;
  /** The tenant's stream; the tenant is the partition. */
  entry: TenantRegistryEntry;
  /** The projector: names the durable consumer. */
  processorId: string;
  /** The projector's batch size: most messages per delivery, and twice that unacked at most. */
  batchSize: number;
  /** Sends events to the partition's thread; true once committed through the last, false if the partition stopped (halted, fenced). */
  deliver: (items: PositionedEvent[]) => Promise<boolean>;
  /** The partition's last committed position, null before its first commit. */
  checkpoint: () => Position | null;
  /**
   * What the stream's retention dropped: the partition's events after `after` (its checkpoint; null:
   * from the first event) and before `before`, in delivery order, page by page, read from the event store.
   */
  backfill: (after: Position | null, before: Position) => AsyncIterable<{ events: PositionedEvent[] }>;
  /** @default DefaultAckWaitMs */
  ackWaitMs?: number;
  logger: Logger;
  /** Aborts to hand the partition over: the batch in flight commits and is acked, the rest is nakked. */
  signal: AbortSignal;
  /** A new owner: the consumer is replaced with one that starts after its ack floor. */
  takeOver: boolean;
  activity: StreamActivity;
  /** Bounds the JetStream API requests of all partitions of a host: thousands starting at once would time out. */
  api: Limiter;
  /** Bounds the partitions of a host consuming at once and the messages they hold. */
  budget: ConsumerBudget;
};

/**
 * Consumes one (projector, tenant) partition this host owns from the tenant's stream until `signal`
 * aborts or the partition stops (see `partitionConsumption` for how).
 */
export const consumePartition = async (context: ConsumePartitionContext): Promise<void> => {
  const { entry, signal } = context;
  // A partition handed over while its request waited for a turn must not touch the consumer any more.
  const api: Limiter = (request) => context.api(() => (signal.aborted ? Promise.reject(new Error(`${entry.stream}: stopped before its turn`)) : request()));
  const config = consumerConfig({ processorId: context.processorId, batchSize: context.batchSize }, context.ackWaitMs);
  await partitionConsumption({
    stream: natsPartitionStream(context.nc, { stream: entry.stream, config, maxMessages: context.batchSize * 2, api }),
    deliver: context.deliver,
    checkpoint: context.checkpoint,
    backfill: context.backfill,
    waitPast: (sequence, waitSignal) => context.activity.waitPast(entry.stream, sequence, waitSignal, api),
    batchSize: context.batchSize,
    takeOver: context.takeOver,
    budget: context.budget,
    signal,
    logger: context.logger,
    label: `${context.processorId}/${entry.tenant} (${entry.stream})`,
  }).run();
};

/**
 * Calls `onTenant` for every tenant in the registry and every tenant added later, until `signal`
 * aborts: the watch sees new tenants at once; a listing every few seconds catches any the watch
 * missed while the connection was down, and restarts the watch if it ended.
 */
export const followTenantRegistry = async (registry: KV, onTenant: (entry: TenantRegistryEntry) => void, signal: AbortSignal, logger: Logger): Promise<void> => {
  const seen = new Set<string>();
  const follow = (token: string, entry: TenantRegistryEntry): void => {
    if (seen.has(token)) return;
    seen.add(token);
    onTenant(entry);
  };
  const watch = async (): Promise<void> => {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        const watcher = await registry.watch();
        const stop = (): void => watcher.stop();
        // Stopped while the watch was being set up: the abort event has already fired.
        if (signal.aborted) stop();
        signal.addEventListener('abort', stop, { once: true });
        for await (const update of watcher) if (update.operation === 'PUT') follow(update.key, update.json<TenantRegistryEntry>());
        signal.removeEventListener('abort', stop);
      } catch (error) {
        if (!signal.aborted) logger.warn(`tenant registry watch failed, watching again: ${toErrorInfo(error).message}`);
      }
      await abortableSleep(backoffDelay(DefaultBackoff, attempt), signal);
    }
  };
  const list = async (): Promise<void> => {
    while (!signal.aborted) {
      await abortableSleep(RegistryListingMs, signal);
      try {
        for await (const token of await registry.keys()) {
          if (seen.has(token)) continue;
          const entry = await registry.get(token);
          if (entry !== null && entry.operation === 'PUT') follow(token, entry.json<TenantRegistryEntry>());
        }
      } catch (error) {
        if (!signal.aborted) logger.warn(`listing the tenant registry failed: ${toErrorInfo(error).message}`);
      }
    }
  };
  await Promise.all([watch(), list()]);
};
