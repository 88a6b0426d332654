import { SpanKind, trace } from '@opentelemetry/api';
import { AlwaysOffSampler } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { recordBatchSpan, type AppliedBatch } from '../../src/tracing/batchSpans.ts';
import { MaxSpanLinks } from '../../src/tracing/spanLinks.ts';
import { epochMs, useInMemoryTracing } from '../support/inMemoryTracing.ts';

const traceparent = (trace: number, span: number, flags = '01'): string =>
  `00-${trace.toString(16).padStart(32, '0')}-${span.toString(16).padStart(16, '0')}-${flags}`;

const batch = (overrides: Partial<AppliedBatch> = {}): AppliedBatch => ({
  processorId: 'carts',
  partition: 'tenant-7',
  firstPosition: 9_007_199_254_740_993n,
  lastPosition: 9_007_199_254_741_000n,
  events: 8,
  groupSize: 3,
  startedAt: Date.UTC(2025, 0, 2, 3, 4, 5, 600),
  durationMs: 12.5,
  traceparents: [],
  ...overrides,
});

/** Traceparents whose reading fails the test: what must never be looked at. */
const untouchable = (): readonly unknown[] =>
  new Proxy([traceparent(1, 1)], {
    get: () => {
      throw new Error('the traceparents were read');
    },
  });

describe('recordBatchSpan', () => {
  const tracing = useInMemoryTracing();

  it('records a consumer span with the batch attributes and its timing', () => {
    tracing.reset();
    recordBatchSpan(batch());
    const [span, ...others] = tracing.named('distributary.apply');
    expect(others).toEqual([]);
    expect(span!.kind).toBe(SpanKind.CONSUMER);
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.instrumentationScope.name).toBe('distributary');
    expect(span!.instrumentationScope.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(span!.attributes).toEqual({
      'distributary.processor_id': 'carts',
      'distributary.partition': 'tenant-7',
      'distributary.position.first': '9007199254740993',
      'distributary.position.last': '9007199254741000',
      'distributary.batch.events': 8,
      'distributary.batch.group_size': 3,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'apply',
      'messaging.consumer.group.name': 'carts',
      'messaging.destination.partition.id': 'tenant-7',
      'messaging.batch.message_count': 8,
    });
    expect(epochMs(span!.startTime)).toBeCloseTo(Date.UTC(2025, 0, 2, 3, 4, 5, 600), 3);
    expect(epochMs(span!.endTime)).toBeCloseTo(Date.UTC(2025, 0, 2, 3, 4, 5, 600) + 12.5, 3);
    expect(span!.links).toEqual([]);
  });

  it('is a root span even inside an active span', () => {
    tracing.reset();
    trace.getTracer('test').startActiveSpan('outer', (outer) => {
      recordBatchSpan(batch());
      outer.end();
    });
    const [span] = tracing.named('distributary.apply');
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.spanContext().traceId).not.toBe(tracing.named('outer')[0]!.spanContext().traceId);
  });

  it('links once to every distinct valid trace context and ignores invalid values', () => {
    tracing.reset();
    const a = traceparent(0xa, 1);
    const b = traceparent(0xb, 2, '00');
    recordBatchSpan(batch({ traceparents: [a, undefined, b, a, 'garbage', traceparent(0xa, 1, '00'), `${a} `, null, 17, traceparent(0, 3), b] }));
    const [span] = tracing.named('distributary.apply');
    expect(span!.links.map((link) => link.context)).toEqual([
      { traceId: a.slice(3, 35), spanId: a.slice(36, 52), traceFlags: 1, isRemote: true },
      { traceId: b.slice(3, 35), spanId: b.slice(36, 52), traceFlags: 0, isRemote: true },
    ]);
    expect(span!.attributes).not.toHaveProperty('distributary.links.dropped');
  });

  it(`keeps the first ${MaxSpanLinks} distinct links and counts the ones it left out`, () => {
    tracing.reset();
    const many = Array.from({ length: MaxSpanLinks + 30 }, (_, i) => traceparent(1000 + i, i + 1));
    recordBatchSpan(batch({ traceparents: [...many, ...many] }));
    const [span] = tracing.named('distributary.apply');
    expect(span!.links).toHaveLength(MaxSpanLinks);
    expect(span!.links.map((link) => link.context.traceId)).toEqual(many.slice(0, MaxSpanLinks).map((value) => value.slice(3, 35)));
    expect(span!.attributes['distributary.links.dropped']).toBe(30);
  });

  it('has no dropped-links attribute at exactly the cap', () => {
    tracing.reset();
    recordBatchSpan(batch({ traceparents: Array.from({ length: MaxSpanLinks }, (_, i) => traceparent(5000 + i, i + 1)) }));
    const [span] = tracing.named('distributary.apply');
    expect(span!.links).toHaveLength(MaxSpanLinks);
    expect(span!.attributes).not.toHaveProperty('distributary.links.dropped');
  });
});

describe('recordBatchSpan when the sampler drops its span', () => {
  const tracing = useInMemoryTracing({ sampler: new AlwaysOffSampler() });

  it('records nothing and never reads the traceparents', () => {
    expect(() => recordBatchSpan(batch({ traceparents: untouchable() }))).not.toThrow();
    expect(tracing.spans()).toEqual([]);
  });
});

describe('recordBatchSpan without an OpenTelemetry SDK', () => {
  it('records nothing and never reads the traceparents', () => {
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
    expect(() => recordBatchSpan(batch({ traceparents: untouchable() }))).not.toThrow();
  });
});
