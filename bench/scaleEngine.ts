// One engine in its own process, so the scale bench can read its peak RSS and CPU from /proc:
// prints `caught-up <ms>` once it has applied everything, then idles until SIGTERM.
import { limitHeapGrowth } from '../src/cli/hostHeap.ts';
import { projectionEngine, silentLogger, stderrLogger, type ProjectionEngineOptions } from '../src/index.ts';

const [connectionString, projectors, extra = '{}'] = process.argv.slice(2);
if (connectionString === undefined || projectors === undefined) throw new Error('usage: scaleEngine <connectionString> <projectorsUrl> [{ transport, hostHeap }]');
const { transport, hostHeap } = JSON.parse(extra) as Pick<ProjectionEngineOptions, 'transport'> & { hostHeap?: boolean };
// As `distributary run` does in its own process.
if (hostHeap === true) limitHeapGrowth();
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1000).unref();

const engine = projectionEngine({ connectionString, projectors, transport, logger: process.env.BENCH_LOG === '1' ? stderrLogger() : silentLogger, lease: { timeoutMs: 10_000 },
  ...(process.env.BENCH_MAX_PENDING === undefined ? {} : { reader: { maxPendingEvents: Number(process.env.BENCH_MAX_PENDING) } }),
});
const started = Date.now();
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
if (process.env.BENCH_LOG === '1')
  setInterval(() => {
    const memory = process.memoryUsage();
    process.stderr.write(`${((Date.now() - started) / 1000).toFixed(0)} s: rss ${mb(memory.rss)} MB, main thread heap ${mb(memory.heapUsed)} of ${mb(memory.heapTotal)} MB, external ${mb(memory.external)} MB (array buffers ${mb(memory.arrayBuffers)})\n`);
  }, 1000).unref();
await engine.start();
process.on('SIGTERM', () => void engine.stop().then(() => process.exit(0)));
await engine.whenCaughtUp({ timeoutMs: 3_600_000 });
const caughtUpMs = Date.now() - started;
// Metric series at this scale: label cardinality must not grow with the tenants.
const series = (await engine.metrics().metrics()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
process.stdout.write(`series ${series.length} ${series.filter((line) => line.startsWith('distributary_')).length}\n`);
process.stdout.write(`caught-up ${caughtUpMs}\n`);
