// Hosts sharing partitions over JetStream: throughput with 1, 2 and 3 host processes on the same
// load (relay start -> every tenant stream drained), then how long partitions take to move when a
// host joins, is killed (-9) or is stopped (SIGTERM).
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { relay, silentLogger } from '../src/index.ts';
import { rendezvousOwner } from '../src/core/rendezvous.ts';
import { consumersToDrain, undrainedConsumers } from '../src/jetstream/drainedConsumers.ts';
import { tenantRegistryBucket } from '../src/jetstream/relay.ts';
import { partitionIdentity } from '../src/core/partitionIdentity.ts';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { startChildEngine, type ChildEngine } from '../test/support/childEngine.ts';
import { startLocalNats } from '../test/support/localNats.ts';
import { appendWorkload, shopWorkload } from '../examples/shop/shopWorkload.ts';
import { benchServer } from './benchDatabase.ts';

const events = Number(process.env.BENCH_EVENTS ?? 30_000);
const tenants = Number(process.env.BENCH_TENANTS ?? 100);
const LeaseMs = Number(process.env.BENCH_LEASE_MS ?? 3000);
const projectorId = 'bench-carts-summary';
const projectors = new URL('./benchProjectors.ts', import.meta.url);
const log = (line: string): boolean => process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const until = async (check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
};

type Host = { hostId: string; child: ChildEngine };

const server = await benchServer();
const nats = process.env.NATS_URL === undefined ? await startLocalNats() : undefined;
const servers = process.env.NATS_URL ?? nats!.url;
const nc = await connect({ servers });
const jsm = await jetstreamManager(nc);
const running: Host[] = [];
const stopHosts = async (hosts: Host[]): Promise<void> => {
  for (const host of hosts) host.child.process.kill('SIGTERM');
  await Promise.all(hosts.map((host) => host.child.exited));
};

try {
  const workload = shopWorkload({ tenants, events, skew: 'uniform' });
  const source = await server.createDatabase('bench_hosts_source');
  const store = getPostgreSQLEventStore(source);
  await store.schema.migrate();
  await store.close();
  await appendWorkload(source, workload, () => undefined, 16);
  log(`workload: ${workload.events} events over ${tenants} tenants; hosts are processes with the default thread budget, lease ${LeaseMs} ms`);

  const rates: number[] = [];
  let lastRun: { connectionString: string; app: string; hosts: Host[] } | undefined;
  for (const count of [1, 2, 3]) {
    const app = `hosts${count}`;
    const connectionString = await server.createDatabase(`bench_hosts_${count}`, 'bench_hosts_source');
    const hosts = Array.from({ length: count }, (_, i): Host => {
      const hostId = `bench-${count}-${i}`;
      return { hostId, child: startChildEngine(connectionString, projectors, { group: app, leaseMs: LeaseMs, hostId, transport: { type: 'jetstream', servers, app } }) };
    });
    running.push(...hosts);
    await Promise.all(hosts.map((host) => host.child.active));
    await sleep(LeaseMs); // every host sees the others before the first tenant appears
    const started = Date.now();
    const relayed = relay({ connectionString, nats: { servers }, app, logger: silentLogger });
    await relayed.start();
    await relayed.whenCaughtUp({ timeoutMs: 600_000 });
    const registry = await new Kvm(nc).open(tenantRegistryBucket(app));
    let left = await consumersToDrain(registry, [projectorId]);
    await until(async () => (left = await undrainedConsumers(jsm, left)).length === 0, 1_800_000, 'the tenant streams drained');
    const seconds = (Date.now() - started) / 1000;
    await relayed.stop();
    rates.push(workload.events / seconds);
    log(`${count} host(s): ${seconds.toFixed(1)} s, ${(workload.events / seconds).toFixed(0)} events/s (relay start -> every stream drained), ratio to 1 host ${(rates.at(-1)! / rates[0]!).toFixed(2)}`);
    if (count < 3) await stopHosts(hosts);
    else lastRun = { connectionString, app, hosts };
  }

  // Moves, on the three-host group of the last run.
  const { connectionString, app, hosts } = lastRun!;
  const db = new pg.Pool({ connectionString });
  const partitions = (await db.query<{ partition: string }>('SELECT DISTINCT partition FROM distributary_partition_owners WHERE processor_id = $1', [projectorId])).rows.map(
    (row) => row.partition,
  );
  /** Milliseconds until every partition is held, unexpired, by its rendezvous owner over `live`. */
  const settle = async (live: string[], since: number): Promise<number> => {
    const expected = new Map(partitions.map((partition) => [partition, rendezvousOwner(partitionIdentity(projectorId, partition), live.map((hostId) => ({ hostId, weight: 1 })))]));
    await until(
      async () => {
        const { rows } = await db.query<{ partition: string; owner: string }>(
          'SELECT partition, owner FROM distributary_partition_owners WHERE processor_id = $1 AND expires_at > clock_timestamp()',
          [projectorId],
        );
        const held = new Map(rows.map((row) => [row.partition, row.owner]));
        return partitions.every((partition) => held.get(partition) === expected.get(partition));
      },
      120_000,
      'the partitions settled',
    );
    return Date.now() - since;
  };
  const ids = (): string[] => hosts.map((host) => host.hostId);

  const joining: Host = { hostId: 'bench-3-joiner', child: startChildEngine(connectionString, projectors, { group: app, leaseMs: LeaseMs, hostId: 'bench-3-joiner', transport: { type: 'jetstream', servers, app } }) };
  running.push(joining);
  await joining.child.active;
  const joined = Date.now();
  hosts.push(joining);
  log(`a fourth host joins: partitions settled ${await settle(ids(), joined)} ms after it started`);

  const victim = hosts.shift()!;
  const killed = Date.now();
  victim.child.process.kill('SIGKILL');
  log(`a host is killed (-9): partitions settled on the others ${await settle(ids(), killed)} ms later (lease ${LeaseMs} ms)`);

  const leaving = hosts.shift()!;
  const stopped = Date.now();
  leaving.child.process.kill('SIGTERM');
  log(`a host is stopped (SIGTERM): partitions settled on the others ${await settle(ids(), stopped)} ms later`);
  await db.end();
} finally {
  await stopHosts(running.filter((host) => host.child.process.exitCode === null && host.child.process.signalCode === null));
  await nc.close();
  await nats?.stop();
  await server.close();
}
