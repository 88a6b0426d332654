import type { Attributes, Link, SpanKind } from '@opentelemetry/api';
import { distributaryTracer } from './tracer.ts';
import { parseTraceparent } from './traceContext.ts';

/** Links one span carries at most; the SDK's default `linkCountLimit` is the same. */
export const MaxSpanLinks = 128;

export type SpanLinks = { links: Link[]; dropped: number };

/**
 * One link per distinct valid trace context among `traceparents` (same trace and span id with other
 * flags counts once), the first `MaxSpanLinks` of them; `dropped` counts the distinct ones left out.
 * Invalid values are ignored.
 */
export const spanLinks = (traceparents: Iterable<unknown>): SpanLinks => {
  const links: Link[] = [];
  const seen = new Set<string>();
  let dropped = 0;
  for (const value of traceparents) {
    const context = parseTraceparent(value);
    if (context === undefined) continue;
    const key = `${context.traceId}-${context.spanId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (links.length < MaxSpanLinks) links.push({ context });
    else dropped++;
  }
  return { links, dropped };
};

/** The attribute a span gets when some of its links were left out. */
export const droppedLinksAttribute = 'distributary.links.dropped';

/**
 * Records, after the fact, a root span over work that mixed events of many requests, linked to every
 * distinct trace context they carry. Without an SDK, or when the sampler drops the span, the contexts
 * are not even parsed; `recording` adds what is worth working out only for a span that is kept.
 */
export const recordLinkedSpan = (span: {
  name: string;
  kind: SpanKind;
  startedAt: number;
  durationMs: number;
  attributes: Attributes;
  traceparents: Iterable<unknown>;
  recording?: () => Attributes;
}): void => {
  const started = distributaryTracer().startSpan(span.name, { kind: span.kind, root: true, startTime: span.startedAt, attributes: span.attributes });
  if (!started.isRecording()) return;
  if (span.recording !== undefined) started.setAttributes(span.recording());
  const { links, dropped } = spanLinks(span.traceparents);
  started.addLinks(links);
  if (dropped > 0) started.setAttribute(droppedLinksAttribute, dropped);
  started.end(span.startedAt + span.durationMs);
};
