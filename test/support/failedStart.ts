// Run as `node failedStart.ts <connectionString>`: starts an engine that cannot start, prints why, and
// returns from the script; the process must then exit on its own (nothing of the engine left running).
import { projectionEngine, silentLogger } from '../../src/index.ts';

const engine = projectionEngine({ connectionString: process.argv[2]!, projectors: new URL('./projections/hashLedger.ts', import.meta.url), logger: silentLogger, threads: 2 });
await engine.start().then(
  () => process.stdout.write('started\n'),
  (error: unknown) => process.stdout.write(`refused: ${error instanceof Error ? error.message : String(error)}\n`),
);
