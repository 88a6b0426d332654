import { readRemovedTenants } from '../postgres/readRemovedTenants.ts';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { abortWithReason } from '../core/abortWithReason.ts';
import { describeFailure } from '../core/isTransientError.ts';
import { retryUntilAborted } from '../core/retryUntilAborted.ts';
import { DistributaryError, toErrorInfo } from '../core/errors.ts';
import { toJson } from '../core/toJson.ts';
import { resolvePartitionKey } from '../core/partitionKey.ts';
import { BeforeFirstPosition, type Position } from '../core/position.ts';
import type { LeasedSession } from '../core/leaseLoop.ts';
import { readCheckpoints } from '../postgres/readCheckpoints.ts';
import { readEventBatch, type EventBatch, type PositionedEvent } from '../postgres/readEventBatch.ts';
import { readPacer } from '../postgres/readPacer.ts';
import { recordDeadLetter } from '../postgres/recordDeadLetter.ts';
import { storeCheckpoint } from '../postgres/storeCheckpoint.ts';
import type { WakeUps } from '../postgres/wakeUps.ts';
import { recordRelayPublishSpan } from '../tracing/relaySpans.ts';
import { normalizeTracestate, parseTraceparent } from '../tracing/traceContext.ts';
import { activitySubject, RelayHeaders } from './streamNames.ts';
import { asyncPublisher } from './asyncPublisher.ts';
import type { ResolvedRelayOptions } from './relayOptions.ts';
import type { TenantStreamNames } from './streamNames.ts';
import type { tenantStreams } from './tenantStreams.ts';

/** Headers every relayed message carries; `Nats-Msg-Id` is the global position. */

/** The relay's checkpoint row in `emt_processors`. */
export const relayProcessorId = (app: string): string => `distributary:relay:${app}`;

export type RelaySession = LeasedSession & { position(): Position; published(): number; publishFailures(): number };

/** What `withTraceContext` put in the event's metadata at append, unchecked. */
const traceContextOf = ({ event }: PositionedEvent): { traceparent?: unknown; tracestate?: unknown } => {
  const metadata: Record<string, unknown> = event.metadata;
  return metadata;
};


/*
 * One period holding the relay lease: read a batch after the checkpoint, publish every event to its
 * tenant's stream asynchronously, wait for every ack, then move the checkpoint (compare-and-set).
 * A batch whose publishing fails is published again after backoff; the stream drops the copies it
 * already holds by `Nats-Msg-Id`, so the checkpoint never passes an event that is not stored.
 */
export const openRelaySession = async (context: {
  options: ResolvedRelayOptions;
  db: pg.Pool;
  nc: NatsConnection;
  streams: ReturnType<typeof tenantStreams>;
  wakeUps: WakeUps;
  onProgress: () => void;
}): Promise<RelaySession> => {
  const { options, db, streams, wakeUps } = context;
  const publisher = asyncPublisher(context.nc);
  const processorId = relayProcessorId(options.app);
  const ending = abortWithReason();
  const { signal } = ending;
  /** The stored checkpoint: everything up to it is in the streams. */
  let position = (await readCheckpoints(db, processorId, 1)).get('emt:default') ?? null;
  let publishedCount = 0;
  let failures = 0;

  type Routed = { item: PositionedEvent; tenant: string; names: TenantStreamNames };

  // Removed tenants, looked up again at most once a second: their events are not published, their streams go.
  let removed = new Set<string>();
  let removedAt = 0;
  const passedOver = new Set<string>();
  const removedTenants = async (): Promise<ReadonlySet<string>> => {
    if (Date.now() - removedAt < 1000) return removed;
    removedAt = Date.now();
    const now = new Set((await readRemovedTenants(db)).filter((tenant) => !tenant.restoring).map((tenant) => tenant.partition));
    for (const tenant of now) if (!removed.has(tenant)) await streams.remove(tenant);
    removed = now;
    return removed;
  };

  /** Resolves every event's tenant and makes sure its stream exists, so that publishing never waits in between. */
  const route = async (items: PositionedEvent[]): Promise<Routed[]> => {
    const keyed: { item: PositionedEvent; tenant: string }[] = [];
    const gone = await removedTenants();
    for (const item of items) {
      const key = resolvePartitionKey(options.partitionBy, item.event);
      if (key.ok && gone.has(key.key)) {
        if (!passedOver.has(key.key)) options.logger.info(`relay: events of removed tenant '${key.key}' are not published`, { partition: key.key });
        passedOver.add(key.key);
        continue;
      }
      if (key.ok) {
        keyed.push({ item, tenant: key.key });
        continue;
      }
      options.logger.warn(`relay: event at ${item.position.global} not published: ${key.error.message}`);
      await recordDeadLetter(db, { processorId, partition: null, item, error: toErrorInfo(key.error), attempts: 1, policy: 'skip' });
    }
    const tenants = [...new Set(keyed.map((k) => k.tenant))];
    const names = new Map(await Promise.all(tenants.map(async (tenant) => [tenant, await streams.ensure(tenant)] as const)));
    return keyed.map(({ item, tenant }) => ({ item, tenant, names: names.get(tenant) as TenantStreamNames }));
  };

  const toMessage = ({ item, tenant, names }: Routed) => {
    const { event } = item;
    const h = headers();
    h.set(RelayHeaders.globalPosition, item.position.global.toString());
    h.set(RelayHeaders.transactionId, item.position.tx.toString());
    h.set(RelayHeaders.streamName, String(event.metadata.streamName));
    h.set(RelayHeaders.eventType, event.type);
    h.set(RelayHeaders.tenant, tenant);
    h.set(RelayHeaders.messageId, String(event.metadata.messageId));
    h.set('Nats-Msg-Id', item.position.global.toString());
    // The appender's trace context, for consumers that continue its trace; only well-formed values.
    const { traceparent, tracestate } = traceContextOf(item);
    if (parseTraceparent(traceparent) !== undefined) {
      h.set('traceparent', String(traceparent));
      const state = normalizeTracestate(tracestate);
      if (state !== undefined) h.set('tracestate', state);
    }
    // The position is in the payload as well, so that consumers need not decode the headers.
    const payload = toJson({ type: event.type, data: event.data, metadata: event.metadata, transactionId: item.position.tx, appendedAt: item.appendedAt });
    return { subject: names.subject(event.type), payload, headers: h };
  };

  const notify = (streams: string[]): void => {
    try {
      context.nc.publish(activitySubject(options.app), JSON.stringify(streams));
    } catch (error) {
      // Sleeping partitions then find the messages at their host's next look over the streams.
      options.logger.warn(`relay: could not notify hosts of new messages: ${toErrorInfo(error).message}`);
    }
  };

  const publishBatch = (items: PositionedEvent[]): Promise<void> => {
    const startedAt = Date.now();
    const started = performance.now();
    return retryUntilAborted(
      async (attempt) => {
        // Published in delivery order on one connection, acks awaited together.
        const routed = await route(items);
        const acks = await publisher.publishAll(routed.map(toMessage), options.ackTimeoutMs);
        publishedCount += acks.filter((ack) => !ack.duplicate).length;
        const first = routed[0];
        const last = routed.at(-1);
        if (first === undefined || last === undefined) return;
        // Stored: wake the hosts' partitions that sleep on these streams.
        const touched = [...new Set(routed.map((r) => r.names.stream))];
        notify(touched);
        recordRelayPublishSpan({
          app: options.app,
          events: routed.length,
          tenants: [...new Set(routed.map((r) => r.tenant))],
          stream: touched.length === 1 ? touched[0] : undefined,
          firstPosition: first.item.position.global,
          lastPosition: last.item.position.global,
          attempts: attempt,
          startedAt,
          durationMs: performance.now() - started,
          traceparents: routed.map((r) => traceContextOf(r.item).traceparent),
        });
      },
      {
        signal,
        onError: (error, attempt) => {
          failures++;
          options.logger.warn(`relay: publishing a batch failed (attempt ${attempt}), retrying: ${describeFailure(error)}`);
        },
      },
    );
  };

  const loop = async (): Promise<void> => {
    // While a full batch is published, the next one is already being read.
    type Read = { generation: number; batch: Promise<EventBatch> };
    const read = (after: Position): Read => {
      const next = { generation: wakeUps.generation(), batch: readEventBatch(db, after, options.batchSize) };
      next.batch.catch(() => undefined);
      return next;
    };
    let prefetched: Read | undefined;
    const pause = readPacer(wakeUps, options.idlePollMs);
    // The checkpoint of a published batch is stored while the next one is read and published; at
    // most one write is in flight, and the next batch's write waits for it (compare-and-set in order).
    // A write that fails (another relay took over, the database is away) ends the session at once.
    let published = position;
    let storing: Promise<void> = Promise.resolve();
    let storeFailed: Error | undefined;
    const store = (expected: Position | null, next: Position): Promise<void> =>
      storeCheckpoint(db, { processorId, partition: 'emt:default', version: 1, instanceId: options.hostId, expected, next })
        .then((stored) => {
          if (!stored.ok) throw new DistributaryError(`another relay moved the relay checkpoint (${stored.reason})`);
          position = next;
          context.onProgress();
        })
        .catch((error: unknown) => {
          storeFailed ??= error instanceof Error ? error : new Error(String(error));
          ending.abort(storeFailed.message);
        });
    try {
      while (!signal.aborted) {
        // Idle or not, a tenant removed loses its stream within a second or so.
        await removedTenants();
        const current = prefetched ?? read(published ?? BeforeFirstPosition);
        const batch = await current.batch;
        prefetched = batch.more ? read(batch.last) : undefined;
        if (batch.events.length > 0) {
          await publishBatch(batch.events);
          await storing;
          if (signal.aborted) break;
          storing = store(published, batch.last);
          published = batch.last;
        }
        await pause(batch, current.generation, signal);
      }
    } finally {
      await storing;
    }
    if (storeFailed !== undefined) throw storeFailed;
  };

  return {
    async run() {
      await loop().catch((error: unknown) => ending.abort(toErrorInfo(error).message));
      return ending.reason();
    },
    abort: ending.abort,
    close: () => Promise.resolve(publisher.close()),
    position: () => position ?? BeforeFirstPosition,
    published: () => publishedCount,
    publishFailures: () => failures,
  };
};
