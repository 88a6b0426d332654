import { SpanKind } from '@opentelemetry/api';
import { recordLinkedSpan } from './spanLinks.ts';

/** One committed batch of one partition, as the router hears of it. */
export type AppliedBatch = {
  processorId: string;
  partition: string;
  firstPosition: bigint;
  lastPosition: bigint;
  events: number;
  /** Partitions committed in the same transaction. */
  groupSize: number;
  /** When applying began, ms since the epoch. */
  startedAt: number;
  durationMs: number;
  /** The events' `metadata.traceparent` values, as found (invalid and repeated ones are allowed). */
  traceparents: readonly unknown[];
};

/**
 * Records, after the fact, a `distributary.apply` span for a committed batch: a root span (a batch
 * mixes events of many requests) linked to every distinct trace context its events carry. Positions
 * are strings, exact beyond 2^53. Without an SDK, or when the sampler drops the span, nothing is parsed.
 */
export const recordBatchSpan = (batch: AppliedBatch): void =>
  recordLinkedSpan({
    name: 'distributary.apply',
    kind: SpanKind.CONSUMER,
    startedAt: batch.startedAt,
    durationMs: batch.durationMs,
    traceparents: batch.traceparents,
    attributes: {
      'distributary.processor_id': batch.processorId,
      'distributary.partition': batch.partition,
      'distributary.position.first': batch.firstPosition.toString(),
      'distributary.position.last': batch.lastPosition.toString(),
      'distributary.batch.events': batch.events,
      'distributary.batch.group_size': batch.groupSize,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'apply',
      'messaging.consumer.group.name': batch.processorId,
      'messaging.destination.partition.id': batch.partition,
      'messaging.batch.message_count': batch.events,
    },
  });
