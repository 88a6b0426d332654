import { context, createTraceState, isSpanContextValid, trace, type SpanContext } from '@opentelemetry/api';

/** The W3C trace context an event carries in its metadata, written by `withTraceContext`. */
export type TraceContextMetadata = { traceparent?: string; tracestate?: string };

// Version 00 only: 2 + 32 + 16 + 2 lowercase hex digits. Later versions may append fields we cannot read.
const Traceparent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const AllZeros = /^0+$/;

/**
 * The metadata to append with an event, with the active span's trace context added as W3C
 * `traceparent` (and `tracestate` when there is one), so that the relay and the projector's batch
 * spans link back to the request that appended it. Without a valid active span (or without an
 * OpenTelemetry SDK) it returns a copy of `metadata` unchanged. Never mutates `metadata`.
 */
export const withTraceContext = <M extends Record<string, unknown> = Record<never, never>>(metadata?: M): M & TraceContextMetadata => {
  const copy: Record<string, unknown> = { ...metadata };
  const active = trace.getSpanContext(context.active());
  if (active === undefined || !isSpanContextValid(active)) return copy as M & TraceContextMetadata;
  copy.traceparent = `00-${active.traceId}-${active.spanId}-${(active.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  const state = active.traceState?.serialize();
  // A tracestate left in `metadata` belongs to another trace.
  if (state === undefined || state === '') delete copy.tracestate;
  else copy.tracestate = state;
  return copy as M & TraceContextMetadata;
};

/**
 * The remote span context a W3C `traceparent` names (with `tracestate`'s valid members, if given),
 * or undefined for anything that is not a valid version-00 value: wrong shape, uppercase, all-zero
 * ids, not a string. Never throws.
 */
export const parseTraceparent = (value: unknown, tracestate?: unknown): SpanContext | undefined => {
  if (typeof value !== 'string') return undefined;
  const match = Traceparent.exec(value);
  if (match === null) return undefined;
  const [, traceId = '', spanId = '', flags = ''] = match;
  if (AllZeros.test(traceId) || AllZeros.test(spanId)) return undefined;
  const parsed: SpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true };
  const state = normalizeTracestate(tracestate);
  if (state !== undefined) parsed.traceState = createTraceState(state);
  return parsed;
};

/**
 * `tracestate` as a header may carry it: parsed, invalid members dropped (what is left is printable
 * ASCII); undefined when nothing valid is left.
 */
export const normalizeTracestate = (value: unknown): string | undefined => {
  if (typeof value !== 'string' || value === '') return undefined;
  const state = createTraceState(value).serialize();
  return state === '' ? undefined : state;
};
