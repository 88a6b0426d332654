// Appends `rate` events a second for `seconds` over `tenants` tenants, in ticks of 10 ms (one append of
// the tick's events, each for a random tenant); run as its own process so the load does not share an
// event loop with what it measures.
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';

const [connectionString, rateArg = '1000', secondsArg = '15', tenantsArg = '100', prefix = 'ping', tenantPrefix = 'tenant'] = process.argv.slice(2);
if (connectionString === undefined) throw new Error('usage: steadyLoad <connectionString> [rate] [seconds] [tenants] [streamPrefix] [tenantPrefix]');
const [rate, seconds, tenants] = [Number(rateArg), Number(secondsArg), Number(tenantsArg)];

const store = getPostgreSQLEventStore(connectionString);
const perTick = rate / 100;
const started = Date.now();
let behindTicks = 0;
for (let tick = 0; tick < seconds * 100; tick++) {
  // Whole events per tick, spread evenly when the rate is not a multiple of 100 a second.
  const count = Math.floor((tick + 1) * perTick) - Math.floor(tick * perTick);
  const events = Array.from({ length: count }, () => ({
    type: 'Pinged',
    data: { appendedAt: Date.now() },
    metadata: { tenant: `${tenantPrefix}-${Math.floor(Math.random() * tenants)}` },
  }));
  if (events.length > 0) await store.appendToStream(`${prefix}-${tick}`, events);
  const wait = started + (tick + 1) * 10 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  else behindTicks++;
}
await store.close();
process.stdout.write(`${JSON.stringify({ seconds: (Date.now() - started) / 1000, events: seconds * rate, behindTicks })}\n`);
