// Runs an outbox dispatcher in its own process for tests that kill it: posts each message to the receiver.
import { outboxDispatcher, silentLogger } from '../../src/index.ts';

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1000).unref();

const [connectionString, receiver] = process.argv.slice(2);
if (connectionString === undefined || receiver === undefined) throw new Error('usage: dispatcherProcess <connectionString> <receiverUrl>');
const dispatcher = outboxDispatcher({
  connectionString,
  logger: silentLogger,
  pollMs: 50,
  deliver: async (message) => {
    const { tenant, position } = message.payload as { tenant: string; position: string };
    const response = await fetch(`${receiver}/effects`, { method: 'POST', body: JSON.stringify({ tenant, position, key: message.key }) });
    await response.text();
    if (!response.ok) throw new Error(`receiver answered ${response.status}`);
  },
});
await dispatcher.start();
process.on('SIGTERM', () => void dispatcher.stop().then(() => process.exit(0)));
process.stdout.write('active\n');
