// Five ordinary Pongo projectors over the same shop events: distributary with every option at its
// default, against Emmett's postgreSQLEventStoreConsumer running the same five projections as five
// postgreSQLProjectors (batch 500, and Emmett's default batch). Each runs in its own process on its
// own copy of the store, so that its time and peak RSS (VmHWM) are its own.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DefaultPostgreSQLEventStoreProcessorBatchSize } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { shopWorkload } from '../examples/shop/shopWorkload.ts';
import { benchServer, seedShopStore } from './benchDatabase.ts';
import { fiveProjections } from './fiveProjections.ts';
import { watchMachineLoad } from './machineLoad.ts';

const events = Number(process.env.BENCH_EVENTS ?? 10_000);
const tenants = Number(process.env.BENCH_TENANTS ?? 50);
/** Emmett's batch besides 500; BENCH_EMMETT_DEFAULT=0 leaves its default-batch run out. */
const withEmmettDefault = process.env.BENCH_EMMETT_DEFAULT !== '0';
const log = (line: string): boolean => process.stdout.write(`${line}\n`);

type Run = { label: string; name: string; seconds: number; peakRssMb: number; documents: Map<string, { count: number; digest: string }> };

/** Documents per collection, with a digest of their contents to tell equal counts of different documents apart. */
const readDocuments = async (connectionString: string): Promise<Run['documents']> => {
  const db = new pg.Pool({ connectionString });
  try {
    const documents: Run['documents'] = new Map();
    for (const { collection } of fiveProjections) {
      const { rows } = await db.query<{ count: number; digest: string | null }>(
        `SELECT count(*)::int AS count, md5(string_agg(_id || ' ' || data::text, ',' ORDER BY _id)) AS digest FROM ${collection}`,
      );
      documents.set(collection, { count: rows[0]!.count, digest: rows[0]!.digest ?? '-' });
    }
    return documents;
  } finally {
    await db.end();
  }
};

/** Runs catchUpChild.ts with `args` on a fresh copy of the seeded store. */
const runChild = async (name: string, label: string, database: string, args: (connectionString: string) => string[]): Promise<Run> => {
  const connectionString = await server.createDatabase(database, 'bench_projectors_source');
  const machine = watchMachineLoad();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./catchUpChild.ts', import.meta.url)), ...args(connectionString)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let result: { ms: number; peakKb: number } | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const match = /^caught-up (\d+) (\d+)/.exec(line);
    if (match !== null) result = { ms: Number(match[1]), peakKb: Number(match[2]) };
  }
  const code = await exited;
  if (result === undefined) throw new Error(`${label}: the child process ended (code ${String(code)}) without catching up`);
  const run = { label, name, seconds: result.ms / 1000, peakRssMb: result.peakKb / 1024, documents: await readDocuments(connectionString) };
  log(`${label}: ${run.seconds.toFixed(2)} s (${(events / run.seconds).toFixed(0)} events/s per projection), peak RSS ${run.peakRssMb.toFixed(0)} MB; ${machine()}`);
  return run;
};

const server = await benchServer();
try {
  const workload = shopWorkload({ tenants, events, skew: 'zipf' });
  log(`workload: ${workload.events} events, ${workload.carts.length} carts, ${workload.expected.size} tenants (zipf); five Pongo projections`);
  // One append at a time: Emmett's consumer reads by global position, and appends committing out of
  // position order would make it skip events (see the README), which would leave it with fewer documents.
  const seeded = await seedShopStore(server, 'bench_projectors_source', workload, 1);
  log(`appended in ${seeded.appendSeconds.toFixed(1)} s`);

  const projectorsUrl = new URL('./fiveProjectors.ts', import.meta.url).href;
  const ours = await runChild('distributary', 'distributary, five projectors, defaults', 'bench_projectors_distributary', (url) => ['distributary', url, projectorsUrl]);
  const emmett = await runChild('emmett batch 500', 'emmett consumer, five postgreSQLProjectors, batch 500', 'bench_projectors_emmett_500', (url) => ['emmett', url, '500']);
  const emmettDefault = withEmmettDefault
    ? await runChild('emmett default batch', `emmett consumer, five postgreSQLProjectors, Emmett's default batch (${DefaultPostgreSQLEventStoreProcessorBatchSize})`, 'bench_projectors_emmett_default', (url) => ['emmett', url, 'default'])
    : undefined;

  log('documents per collection (count, same contents as distributary):');
  const others = [emmett, ...(emmettDefault === undefined ? [] : [emmettDefault])];
  let allSame = true;
  for (const { collection } of fiveProjections) {
    const mine = ours.documents.get(collection)!;
    const compared = others.map((run) => {
      const theirs = run.documents.get(collection)!;
      const same = theirs.count === mine.count && theirs.digest === mine.digest;
      allSame &&= same;
      return `${run.name} ${theirs.count} (${same ? 'same' : 'DIFFERENT'})`;
    });
    log(`  ${collection}: ${ours.name} ${mine.count}; ${compared.join('; ')}`);
  }
  log(allSame ? 'all runs ended with the same documents' : 'the runs ended with DIFFERENT documents');
  log(`ratio time emmett (batch 500) / distributary: ${(emmett.seconds / ours.seconds).toFixed(2)}x (target >= 2x)`);
  if (emmettDefault !== undefined) log(`ratio time emmett (default batch) / distributary: ${(emmettDefault.seconds / ours.seconds).toFixed(2)}x`);
  log(`distributary peak RSS: ${ours.peakRssMb.toFixed(0)} MB (target < 250 MB); emmett ${emmett.peakRssMb.toFixed(0)} MB`);
} finally {
  await server.close();
}
