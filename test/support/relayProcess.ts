// Runs one relay in its own process for tests that kill it: prints `active` once it holds the lease.
import { relay, silentLogger } from '../../src/index.ts';

// A test that died without stopping this process must not leave it running: follow the parent.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1000).unref();

const [connectionString, servers, app = 'shop', leaseMs = '2000'] = process.argv.slice(2);
if (connectionString === undefined || servers === undefined) throw new Error('usage: relayProcess <connectionString> <natsUrl> [app] [leaseMs]');

const running = relay({ connectionString, nats: { servers }, app, logger: silentLogger, lease: { timeoutMs: Number(leaseMs) }, batchSize: 200 });
await running.start();
process.on('SIGTERM', () => void running.stop().then(() => process.exit(0)));
await running.whenActive({ timeoutMs: 120_000 });
process.stdout.write('active\n');
