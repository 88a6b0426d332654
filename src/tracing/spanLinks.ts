import type { Link } from '@opentelemetry/api';
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
