import { describe, expect, it } from 'vitest';
import { projectionEngine, readStatus, relay, silentLogger } from '../../src/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { natsUrl, uniqueApp } from '../support/nats.ts';
import { sample } from '../support/prometheus.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents } from '../support/workload.ts';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);


describe('the status model over JetStream', () => {
  const database = useTestDatabase();

  it('shows the relay and the member hosts alive and caught up, the relay serves its metrics, and stopped ones say so', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    await appendLedgerEvents(connectionString, { tenants: 5, carts: 10, events: 400, seed: 71 });
    const shopRelay = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger, metrics: { port: 0 } });
    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, transport: { type: 'jetstream', servers: natsUrl(), app } });
    await shopRelay.start();
    await engine.start();
    try {
      await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      const { rows } = await db.query<{ head: string }>('SELECT max(global_position)::text AS head FROM emt_messages');
      await waitUntil(
        'the relay and the five partitions are written caught up',
        async () => {
          const status = await readStatus(db);
          const relayRow = status.relays.find((r) => r.app === app);
          return relayRow?.position === rows[0]!.head && status.partitions.length === 5 && status.partitions.every((p) => p.checkpoint === p.head && p.lagEvents === 0);
        },
        10_000,
        100,
      );
      const status = await readStatus(db);
      expect(status.relays.find((r) => r.app === app)).toMatchObject({ alive: true, lagEvents: 0, lagSeconds: 0, streams: 5, storeHead: rows[0]!.head, published: 400 });
      expect(status.hosts.find((h) => h.hostId === engine.status().hostId)).toMatchObject({ alive: true, role: 'member', transport: 'jetstream', partitions: 5 });
      expect(status.partitions.every((p) => p.state === 'idle' && p.owner?.alive === true)).toBe(true);

      const metrics = await (await fetch(`${shopRelay.metricsUrl()}/metrics`)).text();
      expect(sample(metrics, 'distributary_relay_events_published_total')).toBe(400);
      expect(sample(metrics, 'distributary_relay_position')).toBe(Number(rows[0]!.head));
      expect(sample(metrics, 'distributary_relay_lag_events')).toBe(0);
      expect(sample(metrics, 'distributary_relay_streams')).toBe(5);
      expect(sample(metrics, 'distributary_relay_publish_errors_total')).toBe(0);
    } finally {
      await engine.stop();
      await shopRelay.stop();
    }
    const stopped = await readStatus(db);
    expect(stopped.relays.find((r) => r.app === app)).toMatchObject({ alive: false });
    expect(stopped.partitions.every((p) => p.state === 'no live owner')).toBe(true);
  });
});
