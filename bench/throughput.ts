// Same events, same cart documents: Emmett's own single projector with its Pongo projection (at batch
// 500, distributary's projector batch, and at Emmett's default batch), against distributary running the
// same projection, and running pongoBatchProjection; at 20,000 and at 100,000 events. distributary's
// time counts from engine start.
import { DefaultPostgreSQLEventStoreProcessorBatchSize, postgreSQLEventStoreConsumer, postgreSQLProjector } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { projectionEngine, silentLogger } from '../src/index.ts';
import { shopWorkload } from '../examples/shop/shopWorkload.ts';
import { cartsSummaryCollection, cartsSummaryProjection } from '../projections/index.ts';
import { benchServer, seedShopStore } from './benchDatabase.ts';
import { watchMachineLoad } from './machineLoad.ts';
import { registerTracing } from './registerTracing.ts';

/** Workload sizes, run one after the other: BENCH_EVENTS=20000 leaves the long 100,000-event run out. */
const sizes = (process.env.BENCH_EVENTS ?? '20000,100000').split(',').map(Number);
const tenants = Number(process.env.BENCH_TENANTS ?? 100);
const skew = process.env.BENCH_SKEW === 'zipf' ? 'zipf' : 'uniform';
/** BENCH_TELEMETRY=0 leaves out the runs with metrics and tracing on and off. */
const withTelemetry = process.env.BENCH_TELEMETRY !== '0';
/** BENCH_EMMETT_DEFAULT=0 leaves out Emmett at its default batch (the slowest run). */
const withEmmettDefault = process.env.BENCH_EMMETT_DEFAULT !== '0';
const log = (line: string): boolean => process.stdout.write(`${line}\n`);

const countDocuments = async (connectionString: string): Promise<number> => {
  const db = new pg.Pool({ connectionString });
  try {
    const { rows } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${cartsSummaryCollection}`);
    return Number(rows[0]!.n);
  } finally {
    await db.end();
  }
};

const readEmmettCheckpoint = async (connectionString: string): Promise<string> => {
  const db = new pg.Pool({ connectionString });
  try {
    const { rows } = await db.query<{ checkpoint: string }>(
      "SELECT last_processed_checkpoint AS checkpoint FROM emt_processors WHERE processor_id = 'emmett-carts-summary'",
    );
    return rows.map((row) => BigInt(row.checkpoint).toString()).join(',') || 'none';
  } finally {
    await db.end();
  }
};

type Measured = { rate: number; seconds: number };

const server = await benchServer();
try {
  const results: { events: number; emmett: Measured; emmettDefault?: Measured; pongo: Measured; batch: Measured }[] = [];
  for (const size of sizes) {
    const workload = shopWorkload({ tenants, events: size, skew });
    log(`workload: ${workload.events} events, ${workload.carts.length} carts, ${workload.expected.size} tenants (${skew})`);
    const seeded = await seedShopStore(server, 'bench_source', workload, 16);
    log(`  appended in ${seeded.appendSeconds.toFixed(1)} s`);

    const runEmmett = async (label: string, database: string, batchSize: number | undefined): Promise<Measured> => {
      const connectionString = await server.createDatabase(database, 'bench_source');
      const machine = watchMachineLoad();
      const started = Date.now();
      const consumer = postgreSQLEventStoreConsumer({
        connectionString,
        stopWhen: { noMessagesLeft: true },
        ...(batchSize === undefined ? {} : { pulling: { batchSize } }),
        processors: [postgreSQLProjector({ processorId: 'emmett-carts-summary', projection: cartsSummaryProjection, connectionOptions: { connectionString } })],
      });
      await consumer.start();
      await consumer.close();
      const seconds = (Date.now() - started) / 1000;
      const load = machine();
      const rate = workload.events / seconds;
      log(
        `  ${label}: ${seconds.toFixed(1)} s, ${rate.toFixed(0)} events/s, ${await countDocuments(connectionString)} of ${workload.carts.length} documents, checkpoint ${await readEmmettCheckpoint(connectionString)}; ${load}`,
      );
      return { rate, seconds };
    };

    const runOurs = async (label: string, database: string, projectors: string, telemetry = false): Promise<Measured> => {
      const connectionString = await server.createDatabase(database, 'bench_source');
      const engine = projectionEngine({ connectionString, projectors: new URL(projectors, import.meta.url), logger: silentLogger, ...(telemetry ? { metrics: { port: 0 } } : {}) });
      const tracing = telemetry ? registerTracing() : undefined;
      // Scraped every second, as Prometheus would (more often than its default 15 s).
      const scraping = telemetry ? setInterval(() => void fetch(`${engine.metricsUrl()}/metrics`).then((response) => response.text()), 1000) : undefined;
      const machine = watchMachineLoad();
      const started = Date.now();
      await engine.start();
      await engine.whenCaughtUp({ timeoutMs: 3_600_000 });
      const seconds = (Date.now() - started) / 1000;
      const load = machine();
      clearInterval(scraping);
      await engine.stop();
      const spans = await tracing?.stop();
      const rate = workload.events / seconds;
      log(
        `  ${label}: ${seconds.toFixed(1)} s, ${rate.toFixed(0)} events/s, ${await countDocuments(connectionString)} of ${workload.carts.length} documents${spans === undefined ? '' : `, ${spans} batch spans exported`}; ${load}`,
      );
      return { rate, seconds };
    };

    const emmett = await runEmmett('emmett postgreSQLProjector, batch 500', 'bench_emmett', 500);
    const emmettDefault = withEmmettDefault
      ? await runEmmett(`emmett postgreSQLProjector, default batch (${DefaultPostgreSQLEventStoreProcessorBatchSize})`, 'bench_emmett_default', undefined)
      : undefined;
    const pongo = await runOurs("distributary, Emmett's Pongo projection", 'bench_distributary', './benchProjectors.ts');
    const batch = await runOurs('distributary, pongoBatchProjection', 'bench_distributary_batch', './benchBatchProjectors.ts');
    log(`  ratio distributary (Emmett's projection) / emmett batch 500: ${(pongo.rate / emmett.rate).toFixed(2)}x (target >= 3x)`);
    log(`  ratio distributary (pongoBatchProjection) / emmett batch 500: ${(batch.rate / emmett.rate).toFixed(2)}x${workload.events >= 100_000 ? ' (target >= 20x)' : ''}`);
    if (emmettDefault !== undefined)
      log(`  against emmett at its default batch: ${(pongo.rate / emmettDefault.rate).toFixed(2)}x and ${(batch.rate / emmettDefault.rate).toFixed(2)}x`);
    if (withTelemetry) {
      // Metrics served and scraped and an OpenTelemetry SDK exporting every batch span, against the same
      // run without them before and after it.
      const on = await runOurs("distributary, Emmett's Pongo projection, metrics and tracing on", 'bench_distributary_on', './benchProjectors.ts', true);
      const off = await runOurs("distributary, Emmett's Pongo projection, off again", 'bench_distributary_off', './benchProjectors.ts');
      const offRate = (pongo.rate + off.rate) / 2;
      log(`  cost of metrics and tracing: ${(((offRate - on.rate) / offRate) * 100).toFixed(1)}% of the throughput without them (target < 5%)`);
    }
    results.push({ events: workload.events, emmett, emmettDefault, pongo, batch });
  }

  log('summary, events/s (ratio against emmett at batch 500):');
  for (const { events, emmett, emmettDefault, pongo, batch } of results)
    log(
      `  ${events} events: emmett batch 500 ${emmett.rate.toFixed(0)}${emmettDefault === undefined ? '' : `, emmett default batch ${emmettDefault.rate.toFixed(0)} (${(emmettDefault.rate / emmett.rate).toFixed(2)}x)`}` +
        `, distributary with Emmett's projection ${pongo.rate.toFixed(0)} (${(pongo.rate / emmett.rate).toFixed(2)}x), with pongoBatchProjection ${batch.rate.toFixed(0)} (${(batch.rate / emmett.rate).toFixed(2)}x)`,
    );
} finally {
  await server.close();
}
