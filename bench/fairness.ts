// Fairness inside a worker thread, in-process:
//  noisy neighbour: 99 quiet tenants at a steady rate, then the same with one tenant appending 100x
//                   more; p99 append -> read model of the quiet tenants, and the ratio (target <= 2)
//  weights:         two backlogged tenants with weights 3 and 1 sharing one thread; their share of
//                   dispatched events (target 3:1 within 10%)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { migrate, projectionEngine, silentLogger } from 'distributary';
import { benchServer } from './benchDatabase.js';

const quietRate = Number(process.env.BENCH_QUIET_RATE ?? 300);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const projectors = new URL('./fairnessProjectors.ts', import.meta.url);
const log = (line: string): boolean => process.stdout.write(`${line}\n`);

const steadyLoad = (connectionString: string, args: { rate: number; tenants: number; prefix: string; tenantPrefix: string }): Promise<void> =>
  new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL('./steadyLoad.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', script, connectionString, String(args.rate), String(seconds), String(args.tenants), args.prefix, args.tenantPrefix],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`load exited with ${code}`))));
  });

const quietP99 = async (connectionString: string, withNoisy: boolean): Promise<number> => {
  const engine = projectionEngine({ connectionString, projectors, logger: silentLogger });
  const db = new pg.Pool({ connectionString });
  await engine.start();
  try {
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
    await Promise.all([
      steadyLoad(connectionString, { rate: quietRate, tenants: 99, prefix: 'quiet', tenantPrefix: 'quiet' }),
      // One tenant appending 100 times what each quiet tenant does.
      ...(withNoisy ? [steadyLoad(connectionString, { rate: Math.round((quietRate / 99) * 100), tenants: 1, prefix: 'noisy', tenantPrefix: 'noisy' })] : []),
    ]);
    await engine.whenCaughtUp({ timeoutMs: 300_000 });
    const { rows } = await db.query<{ p50: number; p99: number; n: number }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY applied_at - appended_at) AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY applied_at - appended_at) AS p99, count(*)::int AS n
         FROM bench_fair WHERE tenant LIKE 'quiet-%'`,
    );
    const noisy = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM bench_fair WHERE tenant LIKE 'noisy-%'");
    log(`  ${withNoisy ? 'with' : 'without'} the noisy tenant: quiet p50 ${rows[0]!.p50.toFixed(1)} ms, p99 ${rows[0]!.p99.toFixed(1)} ms (${rows[0]!.n} quiet events, ${noisy.rows[0]!.n} noisy)`);
    return rows[0]!.p99;
  } finally {
    await engine.stop();
    await db.end();
  }
};

const weightedShares = async (connectionString: string): Promise<void> => {
  await migrate(connectionString);
  const db = new pg.Pool({ connectionString });
  const store = getPostgreSQLEventStore(connectionString);
  for (const tenant of ['gold', 'basic'])
    for (let chunk = 0; chunk < 20; chunk++)
      await store.appendToStream(
        `${tenant}-${chunk}`,
        Array.from({ length: 1000 }, () => ({ type: 'Pinged', data: { appendedAt: Date.now() }, metadata: { tenant } })),
      );
  await store.close();
  await db.query(`INSERT INTO distributary_partition_weights (processor_id, partition, weight) VALUES ('fair', 'gold', 3), ('fair', 'basic', 1)`);
  const engine = projectionEngine({ connectionString, projectors, logger: silentLogger });
  await engine.start();
  try {
    // Both are backlogged (20,000 events each) for the first seconds; measure while they still are.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const dispatched = new Map((await engine.schedulerSnapshot()).flatMap((thread) => thread.partitions.map((p) => [p.partition, p] as const)));
    const [gold, basic] = [dispatched.get('gold')!, dispatched.get('basic')!];
    const share = gold.dispatchedEvents / (gold.dispatchedEvents + basic.dispatchedEvents);
    log(
      `weights 3 and 1, both backlogged: gold dispatched ${gold.dispatchedEvents} events (${gold.queued} waiting), basic ${basic.dispatchedEvents} (${basic.queued} waiting): ` +
        `ratio ${(gold.dispatchedEvents / basic.dispatchedEvents).toFixed(2)} : 1, gold's share ${(share * 100).toFixed(1)}% (target 75% ± 7.5)`,
    );
  } finally {
    await engine.stop();
    await db.end();
  }
};

const server = await benchServer();
try {
  log(`noisy neighbour: 99 quiet tenants at ${quietRate} events/s in all, for ${seconds} s, one thread`);
  const without = await quietP99(await server.createDatabase('bench_fair_quiet'), false);
  const withNoisy = await quietP99(await server.createDatabase('bench_fair_noisy'), true);
  log(`quiet tenants' p99 with / without the noisy one: ${(withNoisy / without).toFixed(2)} (target <= 2)`);
  await weightedShares(await server.createDatabase('bench_fair_weights'));
} finally {
  await server.close();
}
