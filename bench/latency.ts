// Append -> read model latency at a steady rate over many tenants: in-process (the baseline) and over JetStream.
import pg from 'pg';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { projectionEngine, relay, silentLogger, type ProjectionEngineOptions } from 'distributary';
import { startLocalNats } from '../test/support/localNats.js';
import { benchServer } from './benchDatabase.js';

const rate = Number(process.env.BENCH_RATE ?? 1000);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const tenants = Number(process.env.BENCH_TENANTS ?? 100);
const log = (line: string): boolean => process.stdout.write(`${line}\n`);

/** Appends `rate` events a second for `seconds`, in ticks of 10 ms, each event to a random tenant. */
const steadyLoad = async (connectionString: string): Promise<void> => {
  const store = getPostgreSQLEventStore(connectionString);
  const perTick = rate / 100;
  const started = Date.now();
  for (let tick = 0; tick < seconds * 100; tick++) {
    const appends = Array.from({ length: perTick }, (_, i) => {
      const tenant = `tenant-${Math.floor(Math.random() * tenants)}`;
      return store.appendToStream(`ping-${tenant}-${tick}-${i}`, [{ type: 'Pinged', data: { appendedAt: Date.now() }, metadata: { tenant } }]);
    });
    await Promise.all(appends);
    const wait = started + (tick + 1) * 10 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await store.close();
};

const percentiles = async (connectionString: string): Promise<{ p50: number; p99: number; count: number }> => {
  const db = new pg.Pool({ connectionString });
  try {
    const { rows } = await db.query<{ p50: number; p99: number; count: string }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY applied_at - appended_at) AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY applied_at - appended_at) AS p99, count(*)::text AS count FROM bench_latency`,
    );
    return { p50: rows[0]!.p50, p99: rows[0]!.p99, count: Number(rows[0]!.count) };
  } finally {
    await db.end();
  }
};

const measure = async (connectionString: string, transport: ProjectionEngineOptions['transport'], servers?: string): Promise<{ p50: number; p99: number; count: number }> => {
  const relayed = transport?.type === 'jetstream' ? relay({ connectionString, nats: { servers: servers! }, app: transport.app, logger: silentLogger, batchSize: 200 }) : undefined;
  const engine = projectionEngine({ connectionString, projectors: new URL('./latencyProjectors.ts', import.meta.url), logger: silentLogger, transport });
  await relayed?.start();
  await engine.start();
  await engine.whenCaughtUp({ timeoutMs: 60_000 });
  await steadyLoad(connectionString);
  await relayed?.whenCaughtUp({ timeoutMs: 120_000 });
  await engine.whenCaughtUp({ timeoutMs: 120_000 });
  const atCaughtUp = (await percentiles(connectionString)).count;
  await new Promise((resolve) => setTimeout(resolve, 5000));
  log(`  applied when caught up: ${atCaughtUp}, five seconds later: ${(await percentiles(connectionString)).count}`);
  await engine.stop();
  await relayed?.stop();
  return percentiles(connectionString);
};

const server = await benchServer();
const nats = process.env.NATS_URL === undefined ? await startLocalNats() : undefined;
const servers = process.env.NATS_URL ?? nats!.url;
try {
  log(`steady load: ${rate} events/s over ${tenants} tenants for ${seconds} s`);
  const inProcess = await measure(await server.createDatabase('bench_latency_local'), { type: 'in-process' });
  log(`in-process: p50 ${inProcess.p50.toFixed(1)} ms, p99 ${inProcess.p99.toFixed(1)} ms (${inProcess.count} events)`);
  const overJetStream = await measure(await server.createDatabase('bench_latency_js'), { type: 'jetstream', servers, app: 'latency' }, servers);
  log(`over JetStream (relay + stream consumers): p50 ${overJetStream.p50.toFixed(1)} ms, p99 ${overJetStream.p99.toFixed(1)} ms (${overJetStream.count} events)`);
  log(`p99 ratio JetStream / in-process: ${(overJetStream.p99 / inProcess.p99).toFixed(2)} (JetStream target: p99 < 150 ms)`);
} finally {
  await nats?.stop();
  await server.close();
}
