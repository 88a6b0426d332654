// One catch-up in its own process, so that the parent reads a peak RSS that is this run's alone:
//   catchUpChild.ts distributary <connectionString> <projectorsUrl>
//   catchUpChild.ts emmett <connectionString> <batchSize | default>   (the five shop projections on one consumer)
// Prints `caught-up <ms from start> <peak RSS in kB>` and exits.
import { readFileSync } from 'node:fs';

const [side, connectionString, argument] = process.argv.slice(2);
if (connectionString === undefined || argument === undefined || (side !== 'distributary' && side !== 'emmett'))
  throw new Error('usage: catchUpChild.ts distributary <connectionString> <projectorsUrl> | emmett <connectionString> <batchSize|default>');
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1000).unref();

/** Most memory this process (all its threads) held at once. */
const peakRssKb = (): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

// Each side loads only its own modules, so that neither's peak RSS carries the other's code.
if (side === 'distributary') {
  const { projectionEngine, silentLogger } = await import('../src/index.ts');
  const engine = projectionEngine({ connectionString, projectors: argument, logger: silentLogger });
  const started = performance.now();
  await engine.start();
  await engine.whenCaughtUp({ timeoutMs: 3_600_000 });
  const ms = performance.now() - started;
  process.stdout.write(`caught-up ${ms.toFixed(0)} ${peakRssKb()}\n`);
  await engine.stop();
} else {
  const { postgreSQLEventStoreConsumer, postgreSQLProjector } = await import('@event-driven-io/emmett-postgresql');
  const { fiveProjections } = await import('./fiveProjections.ts');
  const consumer = postgreSQLEventStoreConsumer({
    connectionString,
    stopWhen: { noMessagesLeft: true },
    ...(argument === 'default' ? {} : { pulling: { batchSize: Number(argument) } }),
    processors: fiveProjections.map(({ name, projection }) => postgreSQLProjector({ processorId: `emmett-${name}`, projection })),
  });
  const started = performance.now();
  await consumer.start();
  const ms = performance.now() - started;
  process.stdout.write(`caught-up ${ms.toFixed(0)} ${peakRssKb()}\n`);
  await consumer.close();
}
process.exit(0);
