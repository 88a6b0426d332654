// Append -> read model latency at a steady rate over many tenants: in-process (the baseline) and over JetStream.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { projectionEngine, silentLogger, type ProjectionEngineOptions } from '../src/index.ts';
import { startLocalNats } from '../test/support/localNats.ts';
import { benchServer } from './benchDatabase.ts';
import { watchMachineLoad } from './machineLoad.ts';
import { runSteadyLoad } from './runSteadyLoad.ts';

const rate = Number(process.env.BENCH_RATE ?? 1000);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const tenants = Number(process.env.BENCH_TENANTS ?? 100);
/** The same load runs this long before what is measured, so the figures are of the steady state. */
const warmSeconds = Number(process.env.BENCH_WARM_SECONDS ?? 3);
const log = (line: string): boolean => process.stdout.write(`${line}\n`);

type Latencies = { p50: number; p99: number; max: number; count: number };

/** Latencies of the events appended from `from` (ms since the epoch) on. */
const latencies = async (db: pg.Pool, from = 0): Promise<Latencies> => {
  const { rows } = await db.query<{ p50: number; p99: number; max: number; count: string }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY applied_at - appended_at) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY applied_at - appended_at) AS p99,
            max(applied_at - appended_at) AS max, count(*)::text AS count FROM bench_latency WHERE appended_at >= $1`,
    [from],
  );
  return { p50: rows[0]!.p50, p99: rows[0]!.p99, max: rows[0]!.max, count: Number(rows[0]!.count) };
};

const format = (l: Latencies): string => `p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(0)} ms (${l.count} events)`;

/*
 * First every tenant appends one event (over JetStream that creates its stream and consumers: the
 * "first appearance" figure), then the table is emptied and the steady load runs.
 */
/** `distributary relay` in its own process, as it runs in production. */
const relayProcess = (connectionString: string, servers: string, app: string): { stop(): Promise<void> } => {
  const cli = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const child = spawn(process.execPath, [cli, 'relay', '--app', app, '--nats', servers, '--database-url', connectionString], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
};

const measure = async (connectionString: string, transport: ProjectionEngineOptions['transport'], servers?: string): Promise<{ firstAppearance: Latencies; steady: Latencies }> => {
  const relayed = transport?.type === 'jetstream' ? relayProcess(connectionString, servers!, transport.app) : undefined;
  const engine = projectionEngine({ connectionString, projectors: new URL('./latencyProjectors.ts', import.meta.url), logger: silentLogger, transport });
  const db = new pg.Pool({ connectionString });
  await engine.start();
  try {
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
    await runSteadyLoad(connectionString, { rate: tenants, seconds: 1, tenants, prefix: 'warm' });
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
    const firstAppearance = await latencies(db);
    await db.query('TRUNCATE bench_latency');
    // One continuous load: the first `warmSeconds` are not measured.
    const measuredFrom = Date.now() + warmSeconds * 1000;
    const machine = watchMachineLoad();
    const load = await runSteadyLoad(connectionString, { rate, seconds: warmSeconds + seconds, tenants, prefix: 'ping' });
    log(`  load: ${load.events} events in ${load.seconds.toFixed(1)} s (${(load.events / load.seconds).toFixed(0)}/s, ${load.behindTicks} of ${(warmSeconds + seconds) * 100} ticks late); ${machine()}`);
    // Over JetStream this waits for the relay's checkpoint first.
    await engine.whenCaughtUp({ timeoutMs: 120_000 });
    // BENCH_DETAIL=1: p99 per second of the measured load, to tell a slow start from a steady tail.
    if (process.env.BENCH_DETAIL === '1') {
      const { rows } = await db.query<{ second: number; n: number; p99: number; max: number }>(
        `SELECT floor((appended_at - $1) / 1000)::int AS second, count(*)::int AS n,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY applied_at - appended_at) AS p99, max(applied_at - appended_at) AS max
           FROM bench_latency WHERE appended_at >= $1 GROUP BY 1 ORDER BY 1`,
        [measuredFrom],
      );
      for (const row of rows) log(`    second ${row.second}: ${row.n} events, p99 ${row.p99.toFixed(0)} ms, max ${row.max.toFixed(0)} ms`);
    }
    return { firstAppearance, steady: await latencies(db, measuredFrom) };
  } finally {
    await engine.stop();
    await relayed?.stop();
    await db.end();
  }
};

// BENCH_ONLY=in-process or jetstream runs one of the two.
const only = process.env.BENCH_ONLY;
const server = await benchServer();
const nats = process.env.NATS_URL === undefined && only !== 'in-process' ? await startLocalNats() : undefined;
const servers = process.env.NATS_URL ?? nats?.url;
try {
  log(`steady load: ${rate} events/s over ${tenants} tenants for ${seconds} s after ${warmSeconds} s of the same load unmeasured (load generator in its own process)`);
  const inProcess = only === 'jetstream' ? undefined : await measure(await server.createDatabase('bench_latency_local'), { type: 'in-process' });
  if (inProcess !== undefined) log(`in-process: steady ${format(inProcess.steady)} (target: p99 < 50 ms)`);
  if (only !== 'in-process') {
    const overJetStream = await measure(await server.createDatabase('bench_latency_js'), { type: 'jetstream', servers: servers!, app: 'latency' }, servers);
    log(`over JetStream (relay + stream consumers): steady ${format(overJetStream.steady)} (target: p99 < 150 ms)`);
    log(`  a tenant's first event (creates its stream and consumers): ${format(overJetStream.firstAppearance)}`);
    if (inProcess !== undefined) log(`p99 ratio JetStream / in-process: ${(overJetStream.steady.p99 / inProcess.steady.p99).toFixed(2)}`);
  }
} finally {
  await nats?.stop();
  await server.close();
}
