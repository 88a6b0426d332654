import { context, trace, TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { parseTraceparent, withTraceContext } from '../../src/tracing/traceContext.ts';
import { useInMemoryTracing } from '../support/inMemoryTracing.ts';

const tracer = () => trace.getTracer('test');
const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('withTraceContext without an OpenTelemetry SDK', () => {
  it('returns a copy of the metadata with nothing added', () => {
    const metadata = { tenant: 'a' };
    const result = tracer().startActiveSpan('app', (span) => {
      span.end();
      return withTraceContext(metadata);
    });
    expect(result).toEqual({ tenant: 'a' });
    expect(result).not.toBe(metadata);
  });
});

describe('withTraceContext and parseTraceparent with an SDK', () => {
  const tracing = useInMemoryTracing();

  it('writes the active span as a traceparent that parses back to the same trace and span', () => {
    const metadata = { tenant: 'a' };
    const { written, span } = tracer().startActiveSpan('app', (span) => {
      span.end();
      return { written: withTraceContext(metadata), span: span.spanContext() };
    });
    expect(written).toMatchObject({ tenant: 'a', traceparent: `00-${span.traceId}-${span.spanId}-01` });
    expect(written).not.toHaveProperty('tracestate');
    expect(metadata).toEqual({ tenant: 'a' });
    expect(parseTraceparent(written.traceparent)).toEqual({ traceId: span.traceId, spanId: span.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    expect(tracing.named('app')).toHaveLength(1);
  });

  it('writes the tracestate of the active context, and drops a stale one from the metadata', () => {
    const parent = parseTraceparent(valid, 'vendor=abc,other=1')!;
    const parentContext = trace.setSpanContext(context.active(), parent);
    const written = context.with(parentContext, () => withTraceContext({ tenant: 'a', tracestate: 'stale=1' }));
    expect(written).toEqual({ tenant: 'a', traceparent: valid, tracestate: 'vendor=abc,other=1' });
    const withoutState = context.with(trace.setSpanContext(context.active(), parseTraceparent(valid)!), () => withTraceContext({ tracestate: 'stale=1' }));
    expect(withoutState).toEqual({ traceparent: valid });
  });

  it('writes an unsampled context with flags 00', () => {
    const unsampled = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
    const written = context.with(trace.setSpanContext(context.active(), parseTraceparent(unsampled)!), () => withTraceContext());
    expect(written).toEqual({ traceparent: unsampled });
  });

  it('adds nothing outside any span, and leaves a traceparent the caller put there', () => {
    expect(withTraceContext({ tenant: 'a' })).toEqual({ tenant: 'a' });
    expect(withTraceContext()).toEqual({});
    expect(withTraceContext({ traceparent: valid })).toEqual({ traceparent: valid });
  });

  it('adds nothing inside a context whose span context is invalid', () => {
    const invalid = trace.setSpanContext(context.active(), { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 });
    expect(context.with(invalid, () => withTraceContext({ tenant: 'a' }))).toEqual({ tenant: 'a' });
  });
});

describe('parseTraceparent', () => {
  it('reads a valid version-00 value as a remote span context', () => {
    expect(parseTraceparent(valid)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true });
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff')?.traceFlags).toBe(0xff);
  });

  it('keeps the valid members of a tracestate and ignores an empty or invalid one', () => {
    expect(parseTraceparent(valid, 'a=1,BAD KEY=2,b=2')?.traceState?.serialize()).toBe('a=1,b=2');
    expect(parseTraceparent(valid, 'NOPE')?.traceState).toBeUndefined();
    expect(parseTraceparent(valid, 42)?.traceState).toBeUndefined();
  });

  const malformed: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object', { traceparent: valid }],
    ['an empty string', ''],
    ['another version', '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['uppercase hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01'],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
    ['an all-zero span id', `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`],
    ['a short trace id', '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01'],
    ['a long span id', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b70-01'],
    ['one-digit flags', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1'],
    ['non-hex flags', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g'],
    ['a trailing field', `${valid}-00`],
    ['surrounding spaces', ` ${valid} `],
    ['a trailing newline', `${valid}\n`],
    ['underscores for dashes', valid.replaceAll('-', '_')],
    ['a non-hex character in the trace id', '00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01'],
  ];
  it.each(malformed)('refuses %s', (_what, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('refuses every single-character corruption of a valid value without throwing', () => {
    const replacements = ['G', 'x', '-', ' ', 'A', '\u00e9', '\u0000'];
    for (let i = 0; i < valid.length; i++) {
      for (const replacement of replacements) {
        const corrupted = valid.slice(0, i) + replacement + valid.slice(i + 1);
        if (corrupted === valid) continue;
        expect(parseTraceparent(corrupted), corrupted).toBeUndefined();
      }
      expect(parseTraceparent(valid.slice(0, i) + valid.slice(i + 1)), `without character ${i}`).toBeUndefined();
    }
  });
});
