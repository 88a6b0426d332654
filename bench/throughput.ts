// Same events, same Pongo projection: Emmett's own single projector against distributary with hash placement.
import { getPostgreSQLEventStore, postgreSQLEventStoreConsumer, postgreSQLProjector } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { projectionEngine, silentLogger } from 'distributary';
import { appendWorkload, shopWorkload } from '../examples/shop/shopWorkload.js';
import { cartsSummaryCollection, cartsSummaryProjection } from '../projections/index.js';
import { benchServer } from './benchDatabase.js';

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

  const oursDb = await server.createDatabase('bench_distributary', 'bench_source');
  const engine = projectionEngine({ connectionString: oursDb, projectors: new URL('./benchProjectors.ts', import.meta.url), logger: silentLogger });
  const oursStarted = Date.now();
  await engine.start();
  await engine.whenCaughtUp({ timeoutMs: 3_600_000 });
  const oursSeconds = (Date.now() - oursStarted) / 1000;
  await engine.stop();
  const oursRate = workload.events / oursSeconds;
  log(`distributary hash x${process.env.BENCH_WORKERS ?? 4}: ${oursSeconds.toFixed(1)} s, ${oursRate.toFixed(0)} events/s, ${await countDocuments(oursDb)} of ${workload.carts.length} documents`);
  log(`ratio distributary / emmett: ${(oursRate / emmettRate).toFixed(2)}x (target >= 3x)`);
} finally {
  await server.close();
}
