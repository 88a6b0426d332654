import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { describe, expect, it } from 'vitest';
import { deadLetters, projectionEngine, readStatus, silentLogger } from '../../src/index.ts';
import { startChildEngine } from '../support/childEngine.ts';
import { useTestDatabase } from '../support/database.ts';
import { sample } from '../support/prometheus.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents } from '../support/workload.ts';

const projectors = new URL('../support/projections/policyLedgers.ts', import.meta.url);


describe('the status model', () => {
  const database = useTestDatabase();

  it("shows each partition's lag as the store's head minus its checkpoint, in events and seconds, also in the metrics, and back to 0 after a retry", async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: 6, carts: 20, events: 300, seed: 5 });
    const store = getPostgreSQLEventStore(connectionString);
    const { lastEventGlobalPosition: poisonedAt } = await store.appendToStream('cart-poison', [
      { type: 'ItemAdded', data: { cartId: 'poisoned', amount: 5, poison: true }, metadata: { tenant: 'tenant-3' } },
    ]);
    for (let i = 0; i < 4; i++) await store.appendToStream(`cart-after-${i}`, [{ type: 'ItemAdded', data: { cartId: `after-${i}`, amount: 1 }, metadata: { tenant: 'tenant-3' } }]);
    await store.close();

    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, metrics: { port: 0 }, reader: { markIntervalMs: 200 } });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      const halted = (status: Awaited<ReturnType<typeof readStatus>>) => status.partitions.find((p) => p.processorId === 'ledger-halt' && p.partition === 'tenant-3');
      await waitUntil('the halted partition is in the status', async () => halted(await readStatus(db))?.state === 'halted', 10_000);

      const first = await readStatus(db);
      const { rows } = await db.query<{ partition: string; head: string; events: string }>(
        `SELECT message_metadata->>'tenant' AS partition, max(global_position)::text AS head, count(*) FILTER (WHERE global_position >= $1)::text AS events
           FROM emt_messages GROUP BY 1`,
        [poisonedAt.toString()],
      );
      const heads = new Map(rows.map((row) => [row.partition, row]));
      for (const p of first.partitions) {
        const stored = heads.get(p.partition)!;
        expect(p.head).toBe(stored.head);
        expect(p.owner).toMatchObject({ alive: true, hostId: engine.status().hostId });
        if (p.processorId === 'ledger-halt' && p.partition === 'tenant-3') continue;
        expect(p).toMatchObject({ checkpoint: stored.head, lagEvents: 0, lagSeconds: 0, state: 'idle' });
      }
      const stalled = halted(first)!;
      expect(stalled.lagEvents).toBe(Number(heads.get('tenant-3')!.events));
      expect(stalled.lagEvents).toBe(5);
      expect(BigInt(stalled.checkpoint!)).toBeLessThan(poisonedAt);
      expect(stalled.deadLetters).toBe(1);
      expect(stalled.lagSeconds).toBeGreaterThan(0);
      expect(first.projectors.find((p) => p.processorId === 'ledger-halt')).toMatchObject({ partitions: 6, lagEvents: 5, deadLetters: 1, states: { halted: 1, idle: 5 } });
      expect(first.hosts).toEqual([expect.objectContaining({ hostId: engine.status().hostId, alive: true, role: 'active', partitions: 12, transport: 'in-process' })]);

      await waitUntil('the lag in seconds grows while halted', async () => halted(await readStatus(db))!.lagSeconds > stalled.lagSeconds + 0.5, 10_000, 100);

      const metrics = await (await fetch(`${engine.metricsUrl()}/metrics`)).text();
      expect(sample(metrics, 'distributary_partition_lag_events{projector="ledger-halt",partition="tenant-3"}')).toBe(5);
      expect(sample(metrics, 'distributary_partition_lag_seconds{projector="ledger-halt",partition="tenant-3"}')).toBeGreaterThan(0);
      expect(sample(metrics, 'distributary_projector_lag_events{projector="ledger-halt"}')).toBe(5);
      expect(sample(metrics, 'distributary_projector_lag_events{projector="ledger-skip"}')).toBe(0);
      expect(sample(metrics, 'distributary_dead_letters_total{projector="ledger-halt"}')).toBe(1);
      const applied = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM emt_messages WHERE global_position < $1 OR message_metadata->>'tenant' <> 'tenant-3'", [poisonedAt.toString()]);
      expect(sample(metrics, 'distributary_events_applied_total{projector="ledger-halt"}')).toBe(Number(applied.rows[0]!.n));
      expect(metrics).toMatch(/^distributary_batch_duration_seconds_count\{projector="ledger-halt"\} [1-9]/m);

      await db.query("INSERT INTO ledger_fixes VALUES ('ledger-halt')");
      expect(await deadLetters({ connectionString }).retry({ processorId: 'ledger-halt', partition: 'tenant-3' })).toBe(1);
      await waitUntil(
        'the retried partition has no lag left',
        async () => {
          const p = halted(await readStatus(db))!;
          return p.state === 'idle' && p.lagEvents === 0 && p.lagSeconds === 0 && p.checkpoint === p.head;
        },
        30_000,
        100,
      );
      const after = await (await fetch(`${engine.metricsUrl()}/metrics`)).text();
      expect(sample(after, 'distributary_partition_lag_events{projector="ledger-halt",partition="tenant-3"}')).toBeUndefined();
      expect(sample(after, 'distributary_projector_lag_events{projector="ledger-halt"}')).toBe(0);
    } finally {
      await engine.stop();
    }
    const stopped = await readStatus(db);
    expect(stopped.partitions.every((p) => p.state === 'no live owner' && p.owner?.alive === false)).toBe(true);
    expect(stopped.hosts).toEqual([expect.objectContaining({ alive: false, role: 'stopped' })]);
  });

  it('shows the partitions of a host that died as having no live owner within the lease timeout', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: 3, carts: 5, events: 60, seed: 9 });
    const child = startChildEngine(connectionString, projectors, { leaseMs: 2000, hostId: 'doomed' });
    await child.active;
    await waitUntil('the child owns every partition', async () => {
      const { partitions } = await readStatus(db);
      return partitions.length >= 6 && partitions.every((p) => p.owner?.hostId === 'doomed' && p.owner.alive);
    }, 30_000, 100);
    child.process.kill('SIGKILL');
    await child.exited;
    const killedAt = Date.now();
    await waitUntil('no partition has a live owner', async () => (await readStatus(db)).partitions.every((p) => p.state === 'no live owner'), 10_000, 100);
    expect(Date.now() - killedAt).toBeLessThan(2000 + 1500);
    const status = await readStatus(db);
    expect(status.hosts.find((h) => h.hostId === 'doomed')).toMatchObject({ alive: false, role: 'stopped' });
  });
});
