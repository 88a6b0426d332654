// Runs one engine in its own process for tests that kill it: prints `active` once it holds the lease.
import { projectionEngine, silentLogger, stderrLogger, type ProjectionEngineOptions } from '../../src/index.ts';

// A test that died without stopping this process must not leave it running: follow the parent.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1000).unref();

const [connectionString, projectors, group = 'default', leaseMs = '2000', extra = '{}'] = process.argv.slice(2);
if (connectionString === undefined || projectors === undefined) throw new Error('usage: engineProcess <connectionString> <projectorsUrl> [group] [leaseMs] [{ hostId, transport }]');
const { hostId, transport } = JSON.parse(extra) as Pick<ProjectionEngineOptions, 'hostId' | 'transport'>;

const engine = projectionEngine({ connectionString, projectors, hostId, transport, logger: process.env.CHILD_LOG === '1' ? stderrLogger() : silentLogger, lease: { group, timeoutMs: Number(leaseMs) } });
await engine.start();
process.on('SIGTERM', () => void engine.stop().then(() => process.exit(0)));
await engine.whenActive({ timeoutMs: 120_000 });
process.stdout.write('active\n');
