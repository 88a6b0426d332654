import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetters, outbox, outboxDispatcher, partitionedReactor, projectionEngine, relay, silentLogger } from '../../src/index.ts';
import { killChildren, startChildDispatcher, startChildEngine } from '../support/childEngine.ts';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';
import { runUntilCaughtUp } from '../support/runEngine.ts';
import { effectsByTenant, startEffectReceiver, type EffectReceiver } from '../support/effectReceiver.ts';
import { natsUrl, uniqueApp } from '../support/nats.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents } from '../support/workload.ts';
import type pg from 'pg';

const projection = (name: string): URL => new URL(`../support/projections/${name}.ts`, import.meta.url);

/** Each tenant's ItemAdded positions in delivery order (transaction, then position). */
const storedOrder = async (db: pg.Pool, tenants?: readonly string[]): Promise<Map<string, string[]>> => {
  const { rows } = await db.query<{ tenant: string; position: string }>(
    `SELECT message_metadata->>'tenant' AS tenant, global_position::text AS position FROM emt_messages
      WHERE message_type = 'ItemAdded' AND ($1::text[] IS NULL OR message_metadata->>'tenant' = ANY($1))
      ORDER BY transaction_id, global_position`,
    [tenants ?? null],
  );
  const out = new Map<string, string[]>();
  for (const row of rows) out.set(row.tenant, [...(out.get(row.tenant) ?? []), row.position]);
  return out;
};

const everyKeyArrived = (receiver: EffectReceiver, expected: Map<string, string[]>) => (): boolean => {
  const got = effectsByTenant(receiver.received);
  return [...expected].every(([tenant, positions]) => (got.get(tenant)?.positions.length ?? 0) >= positions.length);
};

/** Every tenant's effects in store order, none repeated out of turn, at most `maxRepeats` of the one in flight. */
const expectEachTenantInOrder = (received: EffectReceiver['received'], expected: Map<string, string[]>, maxRepeats: number): void => {
  const got = effectsByTenant(received);
  for (const [tenant, positions] of expected) {
    const effects = got.get(tenant)!;
    expect(effects.positions, tenant).toEqual(positions);
    expect(effects.outOfOrderRepeats, tenant).toBe(0);
    expect(effects.repeats, tenant).toBeLessThanOrEqual(maxRepeats);
  }
};

describe('partitioned reactors', () => {
  const database = useTestDatabase();
  let receiver: EffectReceiver;
  /** A fresh receiver log and `tenants` tenants named `{prefix}-{i}` with `events` events; resolves with their store order. */
  const workload = async (prefix: string, tenants: number, events: number, seed: number): Promise<Map<string, string[]>> => {
    receiver.received.length = 0;
    const tenantName = (i: number): string => `${prefix}-${i}`;
    await appendLedgerEvents(database.connectionString, { tenants, carts: 20, events, seed, tenantName });
    return storedOrder(database.db, Array.from({ length: tenants }, (_, i) => tenantName(i)));
  };
  beforeAll(async () => {
    receiver = await startEffectReceiver();
    // Worker threads and child processes read it when they call the receiver.
    process.env.REACTOR_RECEIVER = receiver.url;
  });
  afterAll(async () => {
    killChildren();
    await receiver?.close();
  });

  it('hands each tenant its messages in order, every one at least once, repeating only the one in flight when the host is killed', async () => {
    const { connectionString } = database;
    const expected = await workload('kill', 8, 1500, 151);
    const first = startChildEngine(connectionString, projection('confirmationReactor'), { leaseMs: 1500 });
    await first.active;
    await waitUntil('the first host called the receiver a few hundred times', () => receiver.received.length >= 300, 60_000, 20);
    first.process.kill('SIGKILL');
    await first.exited;
    const second = startChildEngine(connectionString, projection('confirmationReactor'), { leaseMs: 1500 });
    await waitUntil('every message arrived', everyKeyArrived(receiver, expected), 120_000, 100);
    second.process.kill('SIGTERM');
    await second.exited;

    // The one message in flight when the host died, at most.
    expectEachTenantInOrder(receiver.received, expected, 1);
    // A repeat carries the same key: no two keys for one position.
    const keysByPosition = new Map<string, Set<string>>();
    for (const effect of receiver.received) keysByPosition.set(effect.position, (keysByPosition.get(effect.position) ?? new Set()).add(effect.key));
    expect([...keysByPosition.values()].every((keys) => keys.size === 1)).toBe(true);
  });

  it('halts only the tenant whose handler throws, keeps the message in the dead letters, and resumes it in order on retry', async () => {
    const { connectionString, db } = database;
    const expected = await workload('halt', 4, 400, 152);
    const victim = expected.get('halt-2')!;
    const poisoned = victim[Math.floor(victim.length / 2)]!;
    const poisonKey = `confirmations/halt-2/${poisoned}`;
    receiver.refuse(poisonKey);
    const engine = projectionEngine({ connectionString, projectors: projection('confirmationReactor'), logger: silentLogger });
    await engine.start();
    try {
      const others = new Map([...expected].filter(([tenant]) => tenant !== 'halt-2'));
      await waitUntil('the other tenants got everything', everyKeyArrived(receiver, others), 60_000, 50);
      await waitUntil('halt-2 halted', () => engine.status().projectors[0]!.partitions.find((p) => p.partition === 'halt-2')?.state === 'halted', 30_000, 50);
      expect(effectsByTenant(receiver.received).get('halt-2')!.positions).toEqual(victim.slice(0, victim.indexOf(poisoned)));
      const { rows } = await db.query<{ partition: string; global_position: string; error_message: string }>(
        "SELECT partition, global_position::text, error_message FROM distributary_dead_letters WHERE processor_id = 'confirmations'",
      );
      expect(rows).toEqual([{ partition: 'halt-2', global_position: poisoned, error_message: `the receiver refused ${poisonKey}` }]);

      receiver.accept(poisonKey);
      const admin = deadLetters({ connectionString });
      await admin.retry({ processorId: 'confirmations', partition: 'halt-2' });
      await admin.close();
      await waitUntil('halt-2 got everything', everyKeyArrived(receiver, expected), 60_000, 50);
      expect(effectsByTenant(receiver.received).get('halt-2')!.positions).toEqual(victim);
    } finally {
      await engine.stop();
    }
  });

  it('runs over JetStream on two hosts of its own, each tenant in order, repeating at most the message in flight when one host is killed', async () => {
    const { connectionString } = database;
    const app = uniqueApp();
    const expected = await workload('js', 6, 900, 155);
    const shopRelay = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    await shopRelay.start();
    const transport = { type: 'jetstream' as const, servers: natsUrl(), app };
    // The reactor alone in its module, on hosts of its own (a group of its own too).
    const hosts = [0, 1].map((i) => startChildEngine(connectionString, projection('confirmationReactor'), { group: `reactors-${app}`, leaseMs: 1500, hostId: `reactor-${i}`, transport }));
    try {
      await Promise.all(hosts.map((host) => host.active));
      await waitUntil('the hosts called the receiver a few hundred times', () => receiver.received.length >= 250, 60_000, 20);
      hosts[0]!.process.kill('SIGKILL');
      await hosts[0]!.exited;
      await waitUntil('every message arrived', everyKeyArrived(receiver, expected), 120_000, 100);
    } finally {
      hosts[1]!.process.kill('SIGTERM');
      await hosts[1]!.exited;
      await shopRelay.stop();
    }
    expectEachTenantInOrder(receiver.received, expected, 1);
  });

  it('lets a slow tenant hold up no other tenant: each has at most its one message in flight', async () => {
    const { connectionString } = database;
    const expected = await workload('pace', 5, 500, 153);
    receiver.slow('pace-4', 250);
    const engine = projectionEngine({ connectionString, projectors: projection('confirmationReactor'), logger: silentLogger, threads: 1 });
    await engine.start();
    try {
      const fast = new Map([...expected].filter(([tenant]) => tenant !== 'pace-4'));
      await waitUntil('the fast tenants got everything', everyKeyArrived(receiver, fast), 60_000, 20);
      const slow = effectsByTenant(receiver.received).get('pace-4')?.positions.length ?? 0;
      // pace-4 has the most events (tenant i weighs i+1); at 250 ms each it is far from done.
      expect(slow).toBeLessThan(expected.get('pace-4')!.length / 2);
    } finally {
      receiver.slow('pace-4', 0);
      await engine.stop();
    }
  });

  it('delivers every outbox row once to a receiver that drops repeats, in order per tenant, with the dispatcher killed mid-run', async () => {
    const { connectionString, db } = database;
    const expected = await workload('outbox', 6, 1200, 154);
    await runUntilCaughtUp(connectionString, projection('outboxReactor'));
    // Exactly once into the outbox: one row per message, emitted in the checkpoint's transaction.
    const rows = async (): Promise<number> => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM distributary_outbox WHERE partition LIKE 'outbox-%'")).rows[0]!.n;
    expect(await rows()).toBe(1200);
    const first = startChildDispatcher(connectionString, receiver.url);
    await first.active;
    await waitUntil('the dispatcher delivered some', () => receiver.received.length >= 200, 60_000, 10);
    first.process.kill('SIGKILL');
    await first.exited;
    const second = startChildDispatcher(connectionString, receiver.url);
    await waitUntil('every row arrived', everyKeyArrived(receiver, expected), 60_000, 50);
    second.process.kill('SIGTERM');
    await second.exited;
    // Repeats are the receiver's to drop: any number, each right after the first delivery.
    expectEachTenantInOrder(receiver.received, expected, Number.POSITIVE_INFINITY);
    // Deduplicated by key, the receiver saw each row once.
    expect(new Set(receiver.received.filter((e) => e.tenant.startsWith('outbox-')).map((e) => e.key)).size).toBe(1200);
    expect(await rows()).toBe(0);
  });

  it('moves an outbox row that fails every retry to the dead letters and goes on with its tenant', async () => {
    const { connectionString, db } = database;
    const store = getPostgreSQLEventStore(connectionString);
    await store.appendToStream('outbox-dead', [1, 2, 3].map((amount) => ({ type: 'ItemAdded' as const, data: { cartId: 'dead', amount }, metadata: { tenant: 'outbox-dead' } })));
    await store.close();
    await runUntilCaughtUp(connectionString, projection('outboxReactor'));
    const positions = (await storedOrder(db, ['outbox-dead'])).get('outbox-dead')!;
    const delivered: string[] = [];
    const dispatcher = outboxDispatcher({
      connectionString,
      logger: silentLogger,
      retries: 2,
      backoff: { initialMs: 10, maxMs: 20 },
      pollMs: 20,
      deliver: async (message) => {
        const { tenant, position } = message.payload as { tenant: string; position: string };
        if (tenant !== 'outbox-dead') return;
        if (position === positions[0]) throw new Error('unreachable');
        delivered.push(position);
        await Promise.resolve();
      },
    });
    await dispatcher.start();
    await dispatcher.whenIdle({ timeoutMs: 30_000 });
    await dispatcher.stop();
    const { rows } = await db.query<{ partition: string; attempts: number; last_error: string }>('SELECT partition, attempts, last_error FROM distributary_outbox_dead_letters');
    expect(rows).toEqual([{ partition: 'outbox-dead', attempts: 3, last_error: 'unreachable' }]);
    // The tenant went on after it, in order.
    expect(delivered).toEqual(positions.slice(1));

    // From the command line: listed, then put back and delivered.
    const admin = outbox({ connectionString });
    const [dead] = await admin.deadLetters();
    expect(runCli(connectionString, 'outbox', 'list')).toMatch(new RegExp(`${dead!.id}\\s+outbox-confirmations\\s+outbox-dead\\s+confirmations\\s+\\S+\\s+3\\s+unreachable`));
    expect(runCli(connectionString, 'outbox', 'retry', '--id', dead!.id)).toContain(`outbox dead letter ${dead!.id} is back in the outbox`);
    const again = outboxDispatcher({ connectionString, logger: silentLogger, pollMs: 20, deliver: (message) => {
        delivered.push((message.payload as { position: string }).position);
        return Promise.resolve();
      },
    });
    await again.start();
    await again.whenIdle({ timeoutMs: 30_000 });
    await again.stop();
    expect(delivered).toEqual([...positions.slice(1), positions[0]]);
    expect(await admin.deadLetters()).toEqual([]);
    await admin.close();
  });

  it('refuses a reactor without a handler, with both, or with options it does not know', () => {
    const base = { processorId: 'r', partitionBy: () => 'x', canHandle: ['A'] };
    expect(() => partitionedReactor(base as never)).toThrow("partitionedReactor 'r': give one of options.eachMessage and options.eachBatch");
    expect(() => partitionedReactor({ ...base, eachMessage: () => undefined, eachBatch: () => undefined } as never)).toThrow('give one of options.eachMessage and options.eachBatch');
    expect(() => partitionedReactor({ ...base, eachMessage: () => undefined, batchSize: 10 })).toThrow("partitionedReactor 'r': options.batchSize goes with eachBatch");
    expect(() => partitionedReactor({ ...base, eachMessage: () => undefined, retries: 3 } as never)).toThrow('partitionedReactor: unknown option options.retries');
  });
});
