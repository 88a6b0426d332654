import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { trace, type SpanContext } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { projectionEngine, relay, silentLogger, withTraceContext, type ProjectionEngineOptions } from '../../src/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { useInMemoryTracing } from '../support/inMemoryTracing.ts';
import { natsUrl, uniqueApp } from '../support/nats.ts';
import { waitUntil } from '../support/waitUntil.ts';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);

describe('batch spans', () => {
  const database = useTestDatabase();
  const tracing = useInMemoryTracing();

  /** Appends two requests' events for `tenant` (each in its own span) and returns their span contexts. */
  const appendTraced = async (tenant: string): Promise<SpanContext[]> => {
    const store = getPostgreSQLEventStore(database.connectionString);
    const tracer = trace.getTracer('shop');
    const contexts: SpanContext[] = [];
    for (const cart of ['a', 'b'])
      contexts.push(
        await tracer.startActiveSpan(`checkout ${cart}`, async (span) => {
          await store.appendToStream(`cart-${tenant}-${cart}`, [
            { type: 'ItemAdded', data: { cartId: cart, amount: 1 }, metadata: withTraceContext({ tenant }) },
            { type: 'ItemAdded', data: { cartId: cart, amount: 2 }, metadata: withTraceContext({ tenant }) },
          ]);
          span.end();
          return span.spanContext();
        }),
      );
    await store.close();
    return contexts;
  };

  const expectLinkedBatchSpans = async (tenant: string, appended: SpanContext[]): Promise<void> => {
    const spans = () => tracing.named('distributary.apply').filter((span) => span.attributes['distributary.partition'] === tenant);
    await waitUntil('the batch spans of the tenant ended', () => spans().reduce((sum, span) => sum + Number(span.attributes['distributary.batch.events']), 0) === 4, 10_000);
    const links = spans().flatMap((span) => span.links.map((link) => `${link.context.traceId}/${link.context.spanId}`));
    expect(new Set(links)).toEqual(new Set(appended.map((c) => `${c.traceId}/${c.spanId}`)));
    for (const span of spans()) {
      expect(span.attributes).toMatchObject({ 'distributary.processor_id': 'ledger-hash', 'distributary.partition': tenant });
      expect(Number(span.attributes['distributary.position.first'])).toBeLessThanOrEqual(Number(span.attributes['distributary.position.last']));
      expect(span.attributes['distributary.batch.group_size']).toBeGreaterThanOrEqual(1);
    }
  };

  const run = async (options: Pick<ProjectionEngineOptions, 'transport'>, tenant: string, whenCaughtUp: () => Promise<void> = () => Promise.resolve()): Promise<void> => {
    const engine = projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger, ...options });
    await engine.start();
    try {
      const appended = await appendTraced(tenant);
      await whenCaughtUp();
      await engine.whenCaughtUp({ timeoutMs: 30_000 });
      await expectLinkedBatchSpans(tenant, appended);
    } finally {
      await engine.stop();
    }
  };

  it('link each applied batch to the trace contexts its events were appended with, reading the store', async () => {
    await run({}, 'traced-in-process');
  });

  it('link them over JetStream too, where the relay carries the contexts', async () => {
    const app = uniqueApp();
    const shopRelay = relay({ connectionString: database.connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    await shopRelay.start();
    try {
      await run({ transport: { type: 'jetstream', servers: natsUrl(), app } }, 'traced-stream', () => shopRelay.whenCaughtUp({ timeoutMs: 30_000 }));
    } finally {
      await shopRelay.stop();
    }
  });
});
