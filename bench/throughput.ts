// Same events, same cart documents: Emmett's own single projector with its Pongo projection, against
// distributary with hash placement running the same projection, and running pongoBatchProjection.
import { getPostgreSQLEventStore, postgreSQLEventStoreConsumer, postgreSQLProjector } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { projectionEngine, silentLogger } from 'distributary';
import { appendWorkload, shopWorkload } from '../examples/shop/shopWorkload.ts';
import { cartsSummaryCollection, cartsSummaryProjection } from '../projections/index.ts';
import { benchServer } from './benchDatabase.ts';

const events = Number(process.env.BENCH_EVENTS ?? 100_000);
const tenants = Number(process.env.BENCH_TENANTS ?? 100);
const skew = process.env.BENCH_SKEW === 'zipf' ? 'zipf' : 'uniform';
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

const server = await benchServer();
try {
  const workload = shopWorkload({ tenants, events, skew });
  log(`workload: ${workload.events} events, ${workload.carts.length} carts, ${workload.expected.size} tenants (${skew})`);
  // The source holds Emmett's schema only; distributary's engine adds its own objects to its copy (timed).
  const source = await server.createDatabase('bench_source');
  const store = getPostgreSQLEventStore(source);
  await store.schema.migrate();
  await store.close();
  const appendStarted = Date.now();
  await appendWorkload(source, workload, () => undefined, 16);
  log(`appended in ${((Date.now() - appendStarted) / 1000).toFixed(1)} s`);

  const emmettDb = await server.createDatabase('bench_emmett', 'bench_source');
  const emmettStarted = Date.now();
  const consumer = postgreSQLEventStoreConsumer({
    connectionString: emmettDb,
    stopWhen: { noMessagesLeft: true },
    processors: [postgreSQLProjector({ processorId: 'emmett-carts-summary', projection: cartsSummaryProjection, connectionOptions: { connectionString: emmettDb } })],
  });
  await consumer.start();
  await consumer.close();
  const emmettSeconds = (Date.now() - emmettStarted) / 1000;
  const emmettCheckpoint = await readEmmettCheckpoint(emmettDb);
  const emmettRate = workload.events / emmettSeconds;
  log(`emmett postgreSQLProjector: ${emmettSeconds.toFixed(1)} s, ${emmettRate.toFixed(0)} events/s, ${await countDocuments(emmettDb)} of ${workload.carts.length} documents, checkpoint ${emmettCheckpoint}`);

  const runOurs = async (label: string, database: string, projectors: string): Promise<number> => {
    const connectionString = await server.createDatabase(database, 'bench_source');
    const engine = projectionEngine({ connectionString, projectors: new URL(projectors, import.meta.url), logger: silentLogger });
    const started = Date.now();
    await engine.start();
    await engine.whenCaughtUp({ timeoutMs: 3_600_000 });
    const seconds = (Date.now() - started) / 1000;
    await engine.stop();
    const rate = workload.events / seconds;
    log(`${label}: ${seconds.toFixed(1)} s, ${rate.toFixed(0)} events/s, ${await countDocuments(connectionString)} of ${workload.carts.length} documents`);
    return rate;
  };
  const workers = process.env.BENCH_WORKERS ?? 4;
  const pongoRate = await runOurs(`distributary hash x${workers}, Emmett's Pongo projection`, 'bench_distributary', './benchProjectors.ts');
  log(`ratio distributary / emmett: ${(pongoRate / emmettRate).toFixed(2)}x (target >= 3x)`);
  const batchRate = await runOurs(`distributary hash x${workers}, pongoBatchProjection`, 'bench_distributary_batch', './benchBatchProjectors.ts');
  log(`ratio distributary with pongoBatchProjection / emmett: ${(batchRate / emmettRate).toFixed(2)}x (target >= 20x)`);
} finally {
  await server.close();
}
