// Fairness inside a worker thread, in-process:
//  noisy neighbour: 99 quiet tenants at a steady rate, then the same with one tenant appending 100x
//                   more; p99 append -> read model of the quiet tenants, and the ratio (target <= 2)
//  weights:         two backlogged tenants with weights 3 and 1 sharing one thread and one transaction slot; their share of
//                   dispatched events (target 3:1 within 10%)
import pg from 'pg';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { migrate, projectionEngine, silentLogger } from '../src/index.ts';
import type { PartitionSnapshot } from '../src/core/partitionScheduler.ts';
import { benchServer } from './benchDatabase.ts';
import { watchMachineLoad } from './machineLoad.ts';
import { runSteadyLoad } from './runSteadyLoad.ts';

const quietRate = Number(process.env.BENCH_QUIET_RATE ?? 300);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
/** The same load runs this long before what is measured, so the figures are of the steady state. */
const warmSeconds = Number(process.env.BENCH_WARM_SECONDS ?? 3);
const projectors = new URL('./fairnessProjectors.ts', import.meta.url);
const log = (line: string): boolean => process.stdout.write(`${line}\n`);

const quietP99 = async (connectionString: string, withNoisy: boolean): Promise<number> => {
  const engine = projectionEngine({ connectionString, projectors, logger: silentLogger });
  const db = new pg.Pool({ connectionString });
  await engine.start();
  try {
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
    const measuredFrom = Date.now() + warmSeconds * 1000;
    const machine = watchMachineLoad();
    await Promise.all([
      runSteadyLoad(connectionString, { rate: quietRate, seconds: warmSeconds + seconds, tenants: 99, prefix: 'quiet', tenantPrefix: 'quiet' }),
      // One tenant appending 100 times what each quiet tenant does.
      ...(withNoisy ? [runSteadyLoad(connectionString, { rate: Math.round((quietRate / 99) * 100), seconds: warmSeconds + seconds, tenants: 1, prefix: 'noisy', tenantPrefix: 'noisy' })] : []),
    ]);
    const load = machine();
    await engine.whenCaughtUp({ timeoutMs: 300_000 });
    const { rows } = await db.query<{ p50: number; p99: number; n: number }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY applied_at - appended_at) AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY applied_at - appended_at) AS p99, count(*)::int AS n
         FROM bench_fair WHERE tenant LIKE 'quiet-%' AND appended_at >= $1`,
      [measuredFrom],
    );
    const noisy = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM bench_fair WHERE tenant LIKE 'noisy-%' AND appended_at >= $1", [measuredFrom]);
    log(`  ${withNoisy ? 'with' : 'without'} the noisy tenant: quiet p50 ${rows[0]!.p50.toFixed(1)} ms, p99 ${rows[0]!.p99.toFixed(1)} ms (${rows[0]!.n} quiet events, ${noisy.rows[0]!.n} noisy); ${load}`);
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
  // Interleaved, so that the reader hands both backlogs to the thread together.
  for (let chunk = 0; chunk < 40; chunk++)
    for (const tenant of ['gold', 'basic'])
      await store.appendToStream(
        `${tenant}-${chunk}`,
        Array.from({ length: 1000 }, () => ({ type: 'Pinged', data: { appendedAt: Date.now() }, metadata: { tenant } })),
      );
  await store.close();
  await db.query(`INSERT INTO distributary_partition_weights (processor_id, partition, weight) VALUES ('fair', 'gold', 3), ('fair', 'basic', 1)`);
  // Large reads hand both backlogs to the thread at once; one transaction at a time, so the two compete
  // for every dispatch (threads read this when they start).
  process.env.BENCH_CONCURRENCY = '1';
  const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, reader: { batchSize: 20_000 } });
  await engine.start();
  try {
    // Measured between the first and the last snapshot where both had events waiting.
    type Share = { gold: PartitionSnapshot; basic: PartitionSnapshot };
    const window: Share[] = [];
    for (let i = 0; i < 2000; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const byPartition = new Map((await engine.schedulerSnapshot()).flatMap((thread) => thread.partitions.map((p) => [p.partition, p] as const)));
      const [gold, basic] = [byPartition.get('gold'), byPartition.get('basic')];
      if (gold === undefined || basic === undefined || gold.queued === 0 || basic.queued === 0) {
        if (window.length > 0) break;
        continue;
      }
      window.push({ gold, basic });
    }
    if (window.length < 2) throw new Error('the two tenants were not backlogged together long enough to measure');
    const [first, last] = [window[0]!, window.at(-1)!];
    const gold = last.gold.dispatchedEvents - first.gold.dispatchedEvents;
    const basic = last.basic.dispatchedEvents - first.basic.dispatchedEvents;
    const share = gold / (gold + basic);
    log(
      `weights 3 and 1, both backlogged: gold dispatched ${gold} events, basic ${basic} while both waited (${window.length} snapshots): ` +
        `ratio ${(gold / basic).toFixed(2)} : 1, gold's share ${(share * 100).toFixed(1)}% (target 75% ± 7.5)`,
    );
  } finally {
    await engine.stop();
    await db.end();
  }
};

const server = await benchServer();
try {
  if (process.env.BENCH_ONLY !== 'weights') {
    log(`noisy neighbour: 99 quiet tenants at ${quietRate} events/s in all, for ${seconds} s after ${warmSeconds} s of the same load unmeasured, one thread`);
    const without = await quietP99(await server.createDatabase('bench_fair_quiet'), false);
    const withNoisy = await quietP99(await server.createDatabase('bench_fair_noisy'), true);
    log(`quiet tenants' p99 with / without the noisy one: ${(withNoisy / without).toFixed(2)} (target <= 2)`);
  }
  await weightedShares(await server.createDatabase('bench_fair_weights'));
} finally {
  await server.close();
}
