// The shop demo: a multi-tenant workload appended to an Emmett event store, projected per tenant
// by distributary, then read back like an application would; a reactor sends each confirmed order to
// its tenant's endpoint.
import { pongoClient } from '@event-driven-io/pongo';
import { projectionEngine, type EngineStatus } from '../../src/index.ts';
import { tenantSalesCollection, cartsSummaryCollection, type CartSummary, type TenantSales } from '../../projections/index.ts';
import { startConfirmationEndpoints } from './confirmationEndpoints.ts';
import { openDatabase } from './embeddedPostgres.ts';
import { appendWorkload, shopWorkload } from './shopWorkload.ts';

const tenants = Number(process.env.DEMO_TENANTS ?? 60);
const eventCount = Number(process.env.DEMO_EVENTS ?? 6_000);
const write = (line: string): boolean => process.stdout.write(line);
const progressLine = (text: string): void => void write(process.stdout.isTTY ? `\r${text.padEnd(100)}` : `${text}\n`);

const applied = (status: EngineStatus): number =>
  status.projectors.reduce((sum, p) => sum + p.partitions.reduce((s, partition) => s + partition.applied, 0), 0);

const database = await openDatabase();
write(database.embedded ? 'Started an embedded PostgreSQL (PGlite); set DATABASE_URL to use your own.\n' : 'Using DATABASE_URL.\n');

const endpoints = await startConfirmationEndpoints();
// The reactor's threads read it when they start.
process.env.SHOP_CONFIRMATIONS_URL = endpoints.url;
const engine = projectionEngine({ connectionString: database.connectionString, projectors: new URL('./processors.ts', import.meta.url) });
const pongo = pongoClient(database.connectionString);
try {
  await engine.start();
  await engine.whenActive();
  const workload = shopWorkload({ tenants, events: eventCount });
  write(`Appending ${workload.events} events for ${workload.carts.length} carts of ${workload.expected.size} tenants, projecting while they arrive.\n`);

  const startedAt = Date.now();
  const ticker = setInterval(() => {
    const status = engine.status();
    const partitions = status.projectors.reduce((sum, p) => sum + p.partitions.length, 0);
    const lag = status.projectors.reduce((sum, p) => sum + p.partitions.reduce((s, partition) => s + partition.lag, 0), 0);
    progressLine(`  applied ${applied(status)} (2 projectors, 1 reactor) · ${partitions} partitions · lag ${lag} · ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  }, process.stdout.isTTY ? 250 : 2000);
  await appendWorkload(database.connectionString, workload, () => undefined);
  await engine.whenCaughtUp({ timeoutMs: 300_000 });
  clearInterval(ticker);
  const seconds = (Date.now() - startedAt) / 1000;
  progressLine(`  applied ${applied(engine.status())} events in ${seconds.toFixed(1)} s`);
  write('\n\n');

  const sales = await pongo.db().collection<TenantSales>(tenantSalesCollection).find({});
  const carts = await pongo.db().collection<CartSummary>(cartsSummaryCollection).find({ status: 'confirmed' });
  const confirmedPerTenant = new Map<string, number>();
  for (const cart of carts) confirmedPerTenant.set(cart.tenant, (confirmedPerTenant.get(cart.tenant) ?? 0) + 1);

  write('Top tenants by revenue (read models: tenant_sales, carts_summary)\n');
  write(`  ${'tenant'.padEnd(10)} ${'revenue'.padStart(10)} ${'confirmed'.padStart(10)} ${'items'.padStart(8)}\n`);
  for (const tenant of [...sales].sort((a, b) => b.revenue - a.revenue).slice(0, 10))
    write(`  ${tenant.tenant.padEnd(10)} ${tenant.revenue.toString().padStart(10)} ${tenant.confirmedCarts.toString().padStart(10)} ${tenant.itemsAdded.toString().padStart(8)}\n`);

  write('\nOrder confirmations the reactor sent (one local endpoint per tenant)\n');
  for (const tenant of [...sales].sort((a, b) => b.revenue - a.revenue).slice(0, 5)) {
    const keys = endpoints.received.get(tenant.tenant) ?? [];
    write(`  ${tenant.tenant.padEnd(10)} ${String(keys.length).padStart(4)} received, first ${keys[0] ?? '-'}\n`);
  }

  const mismatches = [...workload.expected.values()].filter((expected) => {
    const actual = sales.find((s) => s.tenant === expected.tenant);
    return (
      actual === undefined ||
      actual.revenue !== expected.revenue ||
      actual.confirmedCarts !== expected.confirmedCarts ||
      actual.itemsAdded !== expected.itemsAdded ||
      (confirmedPerTenant.get(expected.tenant) ?? 0) !== expected.confirmedCarts ||
      (endpoints.received.get(expected.tenant)?.length ?? 0) !== expected.confirmedCarts
    );
  });
  write(
    mismatches.length === 0
      ? `\nAll ${workload.expected.size} tenants match a plain fold of their events, and each received one confirmation per confirmed cart.\n`
      : `\n${mismatches.length} tenants differ from the fold of their events: ${mismatches.map((m) => m.tenant).join(', ')}\n`,
  );
  process.exitCode = mismatches.length === 0 ? 0 : 1;
} finally {
  await engine.stop();
  await pongo.close();
  await database.close();
  await endpoints.close();
}
