import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { context, trace, type SpanContext } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relay, silentLogger, tenantStreamNames } from '../../src/index.ts';
import { parseTraceparent, withTraceContext } from '../../src/tracing/traceContext.ts';
import { useTestDatabase } from '../support/database.ts';
import { useInMemoryTracing } from '../support/inMemoryTracing.ts';
import { connectNats, natsUrl, uniqueApp } from '../support/nats.ts';

type Relayed = { position: bigint; headers: Map<string, string> };

/** Every message of a stream with its headers, in stream order. */
const readWithHeaders = async (nc: NatsConnection, stream: string): Promise<Relayed[]> => {
  const count = (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
  const out: Relayed[] = [];
  const messages = await (await jetstream(nc).consumers.get(stream)).consume();
  for await (const message of messages) {
    const headers = new Map<string, string>();
    for (const [key, values] of message.headers ?? []) headers.set(key, values.join(','));
    out.push({ position: BigInt(headers.get('Distributary-Global-Position') ?? '-1'), headers });
    if (out.length >= count) break;
  }
  await messages.close();
  return out;
};

const sameSpan = (a: SpanContext) => (b: SpanContext) => a.traceId === b.traceId && a.spanId === b.spanId;

describe('relay tracing', () => {
  const database = useTestDatabase();
  const tracing = useInMemoryTracing();
  let nc: NatsConnection;
  beforeAll(async () => (nc = await connectNats()));
  afterAll(async () => nc.close());

  it('carries the appender’s trace context as message headers and links its publish span to it', async () => {
    const app = uniqueApp();
    const tenant = 'traced';
    const store = getPostgreSQLEventStore(database.connectionString);
    const tracer = trace.getTracer('shop');
    // The request's incoming context carries a tracestate, which its spans inherit.
    const incoming = trace.setSpanContext(context.active(), parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'shop=checkout')!);
    const checkout = await context.with(incoming, () =>
      tracer.startActiveSpan('checkout', async (span) => {
        const metadata = withTraceContext({ tenant });
        await store.appendToStream('cart-traced-1', [
          { type: 'ItemAdded', data: { cartId: 'cart-1', amount: 1 }, metadata },
          { type: 'ItemAdded', data: { cartId: 'cart-1', amount: 2 }, metadata },
        ]);
        span.end();
        return span.spanContext();
      }),
    );
    const refund = await tracer.startActiveSpan('refund', async (span) => {
      await store.appendToStream('cart-traced-2', [{ type: 'ItemAdded', data: { cartId: 'cart-2', amount: 3 }, metadata: withTraceContext({ tenant }) }]);
      span.end();
      return span.spanContext();
    });
    await store.appendToStream('cart-traced-3', [
      { type: 'ItemAdded', data: { cartId: 'cart-3', amount: 4 }, metadata: withTraceContext({ tenant }) },
      { type: 'ItemAdded', data: { cartId: 'cart-3', amount: 5 }, metadata: { tenant, traceparent: 'not-a-traceparent\r\nX-Injected: yes', tracestate: 'a=1' } },
    ]);
    await store.close();

    const running = relay({ connectionString: database.connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    await running.start();
    try {
      await running.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await running.stop();
    }

    const messages = await readWithHeaders(nc, tenantStreamNames(app, tenant).stream);
    expect(messages).toHaveLength(5);
    const traceparentOf = (context: SpanContext): string => `00-${context.traceId}-${context.spanId}-01`;
    expect(messages.map((m) => m.headers.get('traceparent'))).toEqual([traceparentOf(checkout), traceparentOf(checkout), traceparentOf(refund), undefined, undefined]);
    expect(messages.map((m) => m.headers.get('tracestate'))).toEqual(['shop=checkout', 'shop=checkout', undefined, undefined, undefined]);
    expect(checkout.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(messages.some((m) => m.headers.has('X-Injected'))).toBe(false);
    // The relay's own headers are all still there.
    for (const message of messages) {
      expect(message.headers.get('Nats-Msg-Id')).toBe(message.position.toString());
      expect(message.headers.get('Distributary-Tenant')).toBe(tenant);
      expect(message.headers.get('Distributary-Event-Type')).toBe('ItemAdded');
    }

    const spans = tracing.named('distributary.relay.publish').filter((span) => span.attributes['distributary.app'] === app);
    expect(spans.length).toBeGreaterThan(0);
    const links = spans.flatMap((span) => span.links.map((link) => link.context));
    expect(links.filter(sameSpan(checkout))).toHaveLength(1);
    expect(links.filter(sameSpan(refund))).toHaveLength(1);
    expect(links).toHaveLength(2);
    expect(spans.reduce((sum, span) => sum + Number(span.attributes['distributary.batch.events']), 0)).toBe(5);
    const [first] = spans;
    expect(first!.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'send',
      'messaging.destination.name': tenantStreamNames(app, tenant).stream,
      'distributary.relay.tenants': [tenant],
      'distributary.relay.tenant_count': 1,
      'distributary.relay.attempts': 1,
      'distributary.position.first': messages[0]!.position.toString(),
    });
    expect(spans.at(-1)!.attributes['distributary.position.last']).toBe(messages.at(-1)!.position.toString());
    expect(first!.parentSpanContext).toBeUndefined();
  });
});
