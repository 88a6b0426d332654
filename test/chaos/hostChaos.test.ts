// Three host processes share 100 tenant partitions over JetStream under a steady append load while
// hosts are killed (-9) and restarted, and one is paused (SIGSTOP) past its lease. CHAOS_SECONDS sets
// how long the chaos lasts (`npm run chaos` runs a longer round).
import { afterAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { comparePositions } from '../../src/core/position.ts';
import { consumersToDrain, undrainedConsumers } from '../../src/jetstream/drainedConsumers.ts';
import { tenantRegistryBucket } from '../../src/jetstream/relay.ts';
import { relayProcessorId } from '../../src/jetstream/relaySession.ts';
import { readCheckpoints } from '../../src/postgres/readCheckpoints.ts';
import { readLastPosition } from '../../src/postgres/readLastPosition.ts';
import { Kvm } from '@nats-io/kv';
import { killChildren, startChildEngine, startChildRelay, type ChildEngine } from '../support/childEngine.ts';
import { useTestDatabase } from '../support/database.ts';
import { connectNats, natsUrl, uniqueApp } from '../support/nats.ts';
import { databaseNow, fencingViolations, handOversAfter, overlappingLeases } from '../support/ownershipAudit.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.ts';

const ChaosSeconds = Number(process.env.CHAOS_SECONDS ?? 30);
const LeaseMs = 3000;
const projectors = new URL('../support/projections/hashLedger.ts', import.meta.url);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Host = { hostId: string; child: ChildEngine };
type Outage = { hostId: string; at: Date; kind: 'kill -9' | 'SIGSTOP' };

describe('hosts under chaos', () => {
  const database = useTestDatabase();
  afterAll(killChildren);

  it(
    'keep every read model equal to the fold, never commit twice or under an old lease, and re-own a dead host’s partitions within lease + 2 s',
    async () => {
      const { connectionString, db } = database;
      const app = uniqueApp();
      let generation = 0;
      const startHost = (slot: number): Host => {
        const hostId = `host-${slot}-${generation++}`;
        return {
          hostId,
          child: startChildEngine(connectionString, projectors, { group: app, leaseMs: LeaseMs, hostId, transport: { type: 'jetstream', servers: natsUrl(), app } }),
        };
      };
      const relayProcess = startChildRelay(connectionString, natsUrl(), { app });
      const hosts = [startHost(0), startHost(1), startHost(2)];
      const outages: Outage[] = [];
      let stuckOnStop: string[] = [];
      let appending = true;
      let batches = 0;
      const load = (async () => {
        while (appending) {
          await appendLedgerEvents(connectionString, { tenants: 100, carts: 200, events: 30, seed: 1000 + batches++, parallel: 2 });
          await sleep(100);
        }
      })();

      try {
        await relayProcess.active;
        await Promise.all(hosts.map((host) => host.child.active));
        const started = Date.now();
        let paused = false;
        while (Date.now() - started < ChaosSeconds * 1000) {
          await sleep(3000 + Math.random() * 2000);
          const slot = Math.floor(Math.random() * hosts.length);
          const victim = hosts[slot]!;
          if (!paused && Date.now() - started > (ChaosSeconds * 1000) / 3) {
            // The host holding the most partitions is paused past its lease.
            const { rows } = await db.query<{ owner: string }>(
              'SELECT owner FROM distributary_partition_owners WHERE expires_at > clock_timestamp() GROUP BY owner ORDER BY count(*) DESC LIMIT 1',
            );
            const holder = hosts.find((host) => host.hostId === rows[0]?.owner);
            if (holder !== undefined) {
              paused = true;
              outages.push({ hostId: holder.hostId, at: await databaseNow(db), kind: 'SIGSTOP' });
              holder.child.process.kill('SIGSTOP');
              await sleep(LeaseMs + 1500);
              holder.child.process.kill('SIGCONT');
              continue;
            }
          }
          outages.push({ hostId: victim.hostId, at: await databaseNow(db), kind: 'kill -9' });
          victim.child.process.kill('SIGKILL');
          await victim.child.exited;
          await sleep(500);
          hosts[slot] = startHost(slot);
        }
        appending = false;
        await load;

        // Everything relayed, then every consumer of every tenant stream delivered and acked.
        const target = await readLastPosition(db);
        await waitUntil(
          'the relay caught up',
          async () => comparePositions((await readCheckpoints(db, relayProcessorId(app), 1)).get('emt:default') ?? { tx: 0n, global: 0n }, target) >= 0,
          60_000,
          200,
        );
        const nc = await connectNats();
        try {
          const jsm = await jetstreamManager(nc);
          const registry = await new Kvm(nc).open(tenantRegistryBucket(app));
          let left = await consumersToDrain(registry, ['ledger-hash']);
          const tenants = (await db.query<{ n: number }>("SELECT count(DISTINCT message_metadata->>'tenant')::int AS n FROM emt_messages")).rows[0]!.n;
          expect(left.length).toBe(tenants);
          await waitUntil('every tenant stream drained', async () => (left = await undrainedConsumers(jsm, left)).length === 0, 120_000, 500).catch(async (error: unknown) => {
            // Say where it is stuck: the consumers' state and who holds those partitions.
            const details = await Promise.all(
              left.slice(0, 5).map(async (pair) => {
                const info = await jsm.consumers.info(pair.stream, pair.durable).catch(() => undefined);
                const owner = await db.query('SELECT owner, epoch::text, expires_at > clock_timestamp() AS live FROM distributary_partition_owners WHERE processor_id = $1 AND partition = $2', [
                  pair.processorId,
                  pair.tenant,
                ]);
                return `${pair.tenant}: pending ${info?.num_pending}, ack pending ${info?.num_ack_pending}, ack floor ${info?.ack_floor.stream_seq}, delivered ${info?.delivered.stream_seq}, waiting pulls ${info?.num_waiting}; lease ${JSON.stringify(owner.rows[0])}`;
              }),
            );
            throw new Error(`${error instanceof Error ? error.message : String(error)}; ${left.length} undrained: ${details.join(' | ')}; hosts ${hosts.map((h) => h.hostId).join(', ')}`);
          });
        } finally {
          await nc.close();
        }
      } finally {
        appending = false;
        await load.catch(() => undefined);
        const children = [...hosts.map((host) => host.child), relayProcess];
        for (const child of children) child.process.kill('SIGTERM');
        const stopped = Promise.all(children.map((child) => child.exited));
        if ((await Promise.race([stopped.then(() => true), sleep(30_000).then(() => false)])) === false) {
          const stuck = children.filter((child) => child.process.exitCode === null && child.process.signalCode === null);
          stuckOnStop = stuck.map((child) => (child === relayProcess ? 'the relay' : hosts.find((host) => host.child === child)!.hostId));
          for (const child of stuck) child.process.kill('SIGKILL');
          await stopped;
        }
      }

      expect(stuckOnStop, 'processes that did not stop within 30 s of SIGTERM').toEqual([]);
      const handOvers: number[] = [];
      for (const outage of outages) {
        const moved = await handOversAfter(db, 'ledger-hash', outage.hostId, outage.at);
        for (const { partition, ms } of moved) {
          expect(ms, `${outage.kind} of ${outage.hostId}: ${partition} was not owned again`).not.toBeNull();
          expect(ms!, `${outage.kind} of ${outage.hostId}: ${partition} owned again after ${ms} ms`).toBeLessThan(LeaseMs + 2000);
          handOvers.push(ms!);
        }
        const worst = Math.max(0, ...moved.map((m) => m.ms ?? 0));
        process.stdout.write(
          moved.length === 0
            ? `${outage.kind} of ${outage.hostId}: it owned no partition yet\n`
            : `${outage.kind} of ${outage.hostId}: ${moved.length} partitions owned again within ${worst.toFixed(0)} ms\n`,
        );
      }
      handOvers.sort((a, b) => a - b);
      process.stdout.write(
        `hand-over after an outage (lease ${LeaseMs} ms): ${handOvers.length} partitions, median ${handOvers[Math.floor(handOvers.length / 2)]?.toFixed(0)} ms, max ${handOvers.at(-1)?.toFixed(0)} ms; ${batches * 30} events appended\n`,
      );
      expect(outages.length).toBeGreaterThan(2);
      expect(outages.some((outage) => outage.kind === 'SIGSTOP')).toBe(true);
      expect(handOvers.length).toBeGreaterThan(0);
      expect(await readModelTotals(db, 'ledger-hash')).toEqual(await foldFromStore(db));
      expect(await fifoViolations(db, 'ledger-hash')).toEqual([]);
      expect(await fencingViolations(db, 'ledger-hash')).toEqual([]);
      expect(await overlappingLeases(db, 'ledger-hash')).toEqual([]);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM distributary_dead_letters')).rows[0]!.n).toBe(0);
    },
    (ChaosSeconds + 300) * 1000,
  );
});
