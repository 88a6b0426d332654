import { Writable } from 'node:stream';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { projectionEngine } from '../../src/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents } from '../support/workload.ts';

const projectors = new URL('../support/projections/policyLedgers.ts', import.meta.url);

/** The application's own pino logger, writing its JSON lines to memory. */
const memoryPino = (): { logger: pino.Logger; lines: () => Record<string, unknown>[] } => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines: () => lines };
};

describe("logs through the application's pino logger", () => {
  const database = useTestDatabase();

  it('say nothing on a correct run, and log a halt once, structured, with its partition and figures', async () => {
    const { connectionString } = database;
    await appendLedgerEvents(connectionString, { tenants: 4, carts: 10, events: 200, seed: 3 });
    const { logger, lines } = memoryPino();
    const engine = projectionEngine({ connectionString, projectors, logger });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 30_000 });
      expect(lines()).toEqual([]);

      const store = getPostgreSQLEventStore(connectionString);
      await store.appendToStream('cart-poison', [{ type: 'ItemAdded', data: { cartId: 'poisoned', amount: 1, poison: true }, metadata: { tenant: 'tenant-2' } }]);
      await store.appendToStream('cart-later', [{ type: 'ItemAdded', data: { cartId: 'later', amount: 1 }, metadata: { tenant: 'tenant-2' } }]);
      await store.close();
      await waitUntil('the halt is logged', () => lines().some((line) => /halted/.test(String(line.msg))), 30_000);
      await engine.whenCaughtUp({ timeoutMs: 30_000 });
    } finally {
      await engine.stop();
    }
    const halts = lines().filter((line) => /halted/.test(String(line.msg)));
    expect(halts).toEqual([
      expect.objectContaining({ level: 40, name: 'distributary', processorId: 'ledger-halt', partition: 'tenant-2', error: 'poisoned item in cart poisoned' }),
    ]);
    expect(typeof halts[0]!.checkpoint).toBe('string');
    // The poison event at least (the one after it may or may not have been read when the halt was reported).
    expect(halts[0]!.lag).toBeGreaterThanOrEqual(1);
  });
});
