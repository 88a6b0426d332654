// Start-up on an empty, already-migrated store, with a module of two projectors (every option at its
// default): engine.start() to whenCaughtUp() resolving, and engine.start() to an event appended right
// after start resolved being in both read models. Baseline in the same run: Emmett's
// postgreSQLEventStoreConsumer with the same two projections as postgreSQLProjectors, from start() to
// an event appended right after start() was called being in both read models. Each run has a fresh
// engine (or consumer) on a fresh copy of the migrated store.
import { getPostgreSQLEventStore, postgreSQLEventStoreConsumer, postgreSQLProjector } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { migrate, projectionEngine, silentLogger } from '../src/index.ts';
import type { ShopEvent } from '../projections/shopEvents.ts';
import { benchServer } from './benchDatabase.ts';
import { FiveCollections, cartDetailsProjection, tenantSalesTotalsProjection } from './fiveProjections.ts';
import { watchMachineLoad } from './machineLoad.ts';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const pollMs = 2;
const projectors = new URL('./startupProjectors.ts', import.meta.url);
const log = (line: string): boolean => process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const firstEvent: ShopEvent = { type: 'ProductItemAdded', data: { cartId: 'cart-0', productId: 'product-1', quantity: 1, unitPrice: 10 }, metadata: { tenant: 'shop-001' } };

/** Resolves with the time (performance.now()) the first event is in both read models; a table not created yet counts as not there. */
const whenVisible = async (reader: pg.Client): Promise<number> => {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    try {
      const { rows } = await reader.query<{ carts: number; tenants: number }>(
        `SELECT (SELECT count(*)::int FROM ${FiveCollections.cartDetails}) AS carts, (SELECT count(*)::int FROM ${FiveCollections.tenantSales}) AS tenants`,
      );
      if (rows[0]!.carts > 0 && rows[0]!.tenants > 0) return performance.now();
    } catch (error) {
      if ((error as { code?: string }).code !== '42P01') throw error;
    }
    await sleep(pollMs);
  }
  throw new Error('the first event did not reach both read models within 60 s');
};

/** A fresh copy of the migrated store, with a store to append to and a reader to poll, both connected before anything is timed. */
const freshStore = async (name: string) => {
  const connectionString = await server.createDatabase(name, 'bench_startup_template');
  const store = getPostgreSQLEventStore(connectionString);
  await store.streamExists('warm-up');
  const reader = new pg.Client({ connectionString });
  await reader.connect();
  return {
    connectionString,
    append: () => store.appendToStream<ShopEvent>('shopping_cart-shop-001-cart-0', [firstEvent]),
    reader,
    close: async () => {
      await reader.end();
      await store.close();
    },
  };
};

/** distributary: start() to whenCaughtUp() on the empty store. */
const caughtUpRun = async (run: number): Promise<{ startMs: number; caughtUpMs: number }> => {
  const fresh = await freshStore(`bench_startup_caught_up_${run}`);
  const engine = projectionEngine({ connectionString: fresh.connectionString, projectors, logger: silentLogger });
  try {
    const started = performance.now();
    await engine.start();
    const startMs = performance.now() - started;
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
    return { startMs, caughtUpMs: performance.now() - started };
  } finally {
    await engine.stop();
    await fresh.close();
  }
};

/** distributary: start() to an event appended once start() resolved being in both read models. */
const firstEventRun = async (run: number): Promise<number> => {
  const fresh = await freshStore(`bench_startup_first_event_${run}`);
  const engine = projectionEngine({ connectionString: fresh.connectionString, projectors, logger: silentLogger });
  try {
    const started = performance.now();
    await engine.start();
    await fresh.append();
    return (await whenVisible(fresh.reader)) - started;
  } finally {
    await engine.stop();
    await fresh.close();
  }
};

/** Emmett: start() (which resolves only when the consumer stops) to an event appended right after it was called being in both read models. */
const emmettRun = async (run: number): Promise<number> => {
  const fresh = await freshStore(`bench_startup_emmett_${run}`);
  const consumer = postgreSQLEventStoreConsumer({
    connectionString: fresh.connectionString,
    processors: [
      postgreSQLProjector({ processorId: 'emmett-cart-details', projection: cartDetailsProjection }),
      postgreSQLProjector({ processorId: 'emmett-tenant-sales', projection: tenantSalesTotalsProjection }),
    ],
  });
  const started = performance.now();
  const consuming = consumer.start();
  try {
    await fresh.append();
    return (await whenVisible(fresh.reader)) - started;
  } finally {
    await consumer.close();
    await consuming;
    await fresh.close();
  }
};

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const summary = (values: number[]): string => `median ${median(values).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms (runs: ${values.map((v) => v.toFixed(0)).join(', ')})`;

const server = await benchServer();
try {
  const template = await server.createDatabase('bench_startup_template');
  await migrate(template);
  log(`start-up on an empty, migrated store, two projectors, ${runs} runs each (the first run of each also loads the modules in this process)`);
  const machine = watchMachineLoad();
  const emmett: number[] = [];
  const starts: number[] = [];
  const caughtUp: number[] = [];
  const visible: number[] = [];
  for (let run = 1; run <= runs; run++) {
    emmett.push(await emmettRun(run));
    const { startMs, caughtUpMs } = await caughtUpRun(run);
    starts.push(startMs);
    caughtUp.push(caughtUpMs);
    visible.push(await firstEventRun(run));
  }
  log(`emmett consumer, start() to first event in both read models: ${summary(emmett)}`);
  log(`distributary start() resolved: ${summary(starts)}`);
  log(`distributary start() to whenCaughtUp(): ${summary(caughtUp)} (target: under 300 ms)`);
  log(`distributary start() to first event in both read models: ${summary(visible)}`);
  log(`ratio first event emmett / distributary (medians): ${(median(emmett) / median(visible)).toFixed(2)}x`);
  log(machine());
} finally {
  await server.close();
}
