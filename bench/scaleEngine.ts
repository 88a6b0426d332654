// One engine in its own process, so the scale bench can read its peak RSS and CPU from /proc:
// prints `caught-up <ms>` once it has applied everything, then idles until SIGTERM.
import { projectionEngine, silentLogger, stderrLogger, type ProjectionEngineOptions } from 'distributary';

const [connectionString, projectors, extra = '{}'] = process.argv.slice(2);
if (connectionString === undefined || projectors === undefined) throw new Error('usage: scaleEngine <connectionString> <projectorsUrl> [{ transport }]');
const { transport } = JSON.parse(extra) as Pick<ProjectionEngineOptions, 'transport'>;
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1000).unref();

const engine = projectionEngine({ connectionString, projectors, transport, logger: process.env.BENCH_LOG === '1' ? stderrLogger() : silentLogger, lease: { timeoutMs: 10_000 } });
const started = Date.now();
await engine.start();
process.on('SIGTERM', () => void engine.stop().then(() => process.exit(0)));
await engine.whenCaughtUp({ timeoutMs: 3_600_000 });
process.stdout.write(`caught-up ${Date.now() - started}\n`);
