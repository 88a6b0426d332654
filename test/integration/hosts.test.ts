import { describe, expect, it } from 'vitest';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { deadLetters, projectionEngine, relay, silentLogger, type ProjectionEngine } from '../../src/index.ts';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';
import { natsUrl, uniqueApp } from '../support/nats.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { databaseNow, fencingViolations, handOversAfter, overlappingLeases } from '../support/ownershipAudit.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.ts';

const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);
const LeaseMs = 3000;

const owners = (engines: ProjectionEngine[]): Map<string, string[]> => {
  const result = new Map<string, string[]>();
  for (const engine of engines) {
    const { hostId, projectors: statuses } = engine.status();
    for (const projector of statuses) for (const partition of projector.partitions) result.set(partition.partition, [...(result.get(partition.partition) ?? []), hostId]);
  }
  return result;
};

describe('hosts sharing partitions over JetStream', () => {
  const database = useTestDatabase();

  it('split the partitions, one owner each, and hand a stopped host’s partitions over at once', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const host = (hostId: string): ProjectionEngine =>
      projectionEngine({ connectionString, projectors, hostId, logger: silentLogger, lease: { group: app, timeoutMs: LeaseMs }, transport: { type: 'jetstream', servers: natsUrl(), app } });
    await appendLedgerEvents(connectionString, { tenants: 30, carts: 60, events: 3000, seed: 81, parallel: 4 });
    const running = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    const engines = [host('host-a'), host('host-b'), host('host-c')];
    await running.start();
    try {
      for (const engine of engines) await engine.start();
      await engines[0]!.whenCaughtUp({ timeoutMs: 60_000 });
      // Let the group settle: each host sees the others and hands over what is theirs.
      await new Promise((resolve) => setTimeout(resolve, LeaseMs));
      const before = owners(engines);
      expect(before.size).toBe(30);
      expect([...before.values()].every((hosts) => hosts.length === 1)).toBe(true);
      for (const engine of engines) expect(engine.status().projectors[0]!.partitions.length).toBeGreaterThan(0);
      expect(engines[0]!.status().hosts).toEqual(['host-a', 'host-b', 'host-c']);
      // Every partition's owner and since when, from any machine with the connection string.
      const listed = runCli(connectionString, 'status', '--projector', 'ledger-hash');
      for (const [partition, [owner]] of before) expect(listed).toMatch(new RegExp(`ledger-hash\\s+${partition}\\s+\\d+\\s+${owner}\\s+\\S+ \\(epoch \\d+\\)`));

      const stoppedAt = await databaseNow(db);
      await engines[2]!.stop();
      await appendLedgerEvents(connectionString, { tenants: 30, carts: 60, events: 1000, seed: 82, parallel: 4 });
      await engines[0]!.whenCaughtUp({ timeoutMs: 60_000 });
      const handOvers = await handOversAfter(db, 'ledger-hash', 'host-c', stoppedAt);
      expect(handOvers.length).toBeGreaterThan(0);
      // Released on stop: taken by the others within a round of theirs, not after the lease timeout.
      for (const handOver of handOvers) expect(handOver.ms).toBeLessThan(LeaseMs);
      const after = owners(engines.slice(0, 2));
      expect(after.size).toBe(30);
      expect([...after.values()].every((hosts) => hosts.length === 1)).toBe(true);
    } finally {
      for (const engine of engines) await engine.stop();
      await running.stop();
    }
    expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
    expect(await fifoViolations(db, 'ledger-hash')).toEqual([]);
    expect(await fencingViolations(db, 'ledger-hash')).toEqual([]);
    expect(await overlappingLeases(db, 'ledger-hash')).toEqual([]);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM distributary_dead_letters')).rows[0]!.n).toBe(0);
  });

  it('halt a partition in front of a poisoned event on whichever host owns it, and resume it there after a retry', async () => {
    const { connectionString, db } = database;
    const app = uniqueApp();
    const policyProjectors = new URL('../support/projections/policyLedgers.ts', import.meta.url);
    const host = (hostId: string): ProjectionEngine =>
      projectionEngine({
        connectionString,
        projectors: policyProjectors,
        hostId,
        logger: silentLogger,
        lease: { group: app, timeoutMs: LeaseMs },
        transport: { type: 'jetstream', servers: natsUrl(), app },
      });
    await appendLedgerEvents(connectionString, { tenants: 10, carts: 20, events: 500, seed: 83, tenantName: (i) => `poison-${i}` });
    const store = getPostgreSQLEventStore(connectionString);
    await store.appendToStream('cart-poison', [{ type: 'ItemAdded', data: { cartId: 'poisoned', amount: 1000, poison: true }, metadata: { tenant: 'poison-3' } }]);
    await store.close();
    await appendLedgerEvents(connectionString, { tenants: 10, carts: 20, events: 500, seed: 84, tenantName: (i) => `poison-${i}` });
    const running = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    const engines = [host('halt-a'), host('halt-b')];
    const operations = deadLetters({ connectionString });
    await running.start();
    try {
      for (const engine of engines) await engine.start();
      const caughtUp = await engines[0]!.whenCaughtUp({ timeoutMs: 60_000 });
      expect(caughtUp.stopped).toEqual([{ processorId: 'ledger-halt', partition: 'poison-3', state: 'halted' }]);
      const poisonFree = (totals: Map<string, unknown>) => new Map([...totals].filter(([key]) => key.startsWith('poison-') && !key.startsWith('poison-3/')));
      expect(poisonFree(await readModelTotals(db, 'ledger-halt'))).toEqual(poisonFree(await foldFromStore(db)));
      await db.query("INSERT INTO ledger_fixes VALUES ('ledger-halt'), ('ledger-skip') ON CONFLICT DO NOTHING");
      expect(await operations.retry({ processorId: 'ledger-halt', partition: 'poison-3' })).toBe(1);
      const skipped = (await operations.list({ processorId: 'ledger-skip', status: 'skipped' })).find((letter) => letter.partition === 'poison-3')!;
      expect(await operations.retry({ id: skipped.id })).toBe(1);
      await waitUntil('the retried letters are resolved', async () => (await operations.list({ partition: 'poison-3', status: 'resolved' })).length === 2, 30_000, 100);
      expect((await engines[1]!.whenCaughtUp({ timeoutMs: 60_000 })).stopped).toEqual([]);
    } finally {
      for (const engine of engines) await engine.stop();
      await running.stop();
    }
    const onlyPoison = (totals: Map<string, unknown>) => new Map([...totals].filter(([key]) => key.startsWith('poison-')));
    const fold = onlyPoison(await foldFromStore(db, { includePoison: true }));
    expect(onlyPoison(await readModelTotals(db, 'ledger-halt'))).toEqual(fold);
    expect(onlyPoison(await readModelTotals(db, 'ledger-skip'))).toEqual(fold);
    expect(await fencingViolations(db, 'ledger-halt')).toEqual([]);
  });
});
