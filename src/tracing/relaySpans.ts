import { SpanKind } from '@opentelemetry/api';
import { MaxSpanLinks, recordLinkedSpan } from './spanLinks.ts';

/** One relay batch whose every message the streams acknowledged. */
export type PublishedBatch = {
  app: string;
  events: number;
  /** The tenants whose streams received messages, each once. */
  tenants: readonly string[];
  /** The stream, when every message went to one. */
  stream?: string;
  firstPosition: bigint;
  lastPosition: bigint;
  /** Publishing attempts the batch took (1 when the first succeeded). */
  attempts: number;
  /** When publishing began, ms since the epoch. */
  startedAt: number;
  durationMs: number;
  /** The events' `metadata.traceparent` values, as found. */
  traceparents: readonly unknown[];
};

/**
 * Records, after the fact, a `distributary.relay.publish` span for a published batch: a root span
 * linked to every distinct trace context its events carry, naming at most `MaxSpanLinks` tenants
 * (the count is always there). Without an SDK, or when the sampler drops the span, nothing is parsed.
 */
export const recordRelayPublishSpan = (batch: PublishedBatch): void =>
  recordLinkedSpan({
    name: 'distributary.relay.publish',
    kind: SpanKind.PRODUCER,
    startedAt: batch.startedAt,
    durationMs: batch.durationMs,
    traceparents: batch.traceparents,
    attributes: {
      'distributary.app': batch.app,
      'distributary.position.first': batch.firstPosition.toString(),
      'distributary.position.last': batch.lastPosition.toString(),
      'distributary.batch.events': batch.events,
      'distributary.relay.attempts': batch.attempts,
      'distributary.relay.tenant_count': batch.tenants.length,
      'messaging.system': 'nats',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.batch.message_count': batch.events,
      ...(batch.stream === undefined ? {} : { 'messaging.destination.name': batch.stream }),
    },
    recording: () => ({ 'distributary.relay.tenants': batch.tenants.slice(0, MaxSpanLinks) }),
  });
