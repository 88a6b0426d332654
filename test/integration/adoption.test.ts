import { postgreSQLEventStoreConsumer, postgreSQLProjector } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate, projectionEngine, silentLogger, type ProjectionEngineOptions } from '../../src/index.ts';
import { createTestDatabase } from '../support/database.ts';
import { ledgerProjection } from '../support/projections/ledger.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.ts';
import { natsUrl, uniqueApp } from '../support/nats.ts';
import { relay } from '../../src/index.ts';

const module = (name: string): URL => new URL(`../support/projections/${name}.ts`, import.meta.url);

/** A database where Emmett's own projector ran the ledger over the first half of the events; the second half came after it stopped. */
const halfRunByEmmett = async (): Promise<{ connectionString: string; db: pg.Pool; emmettApplied: number }> => {
  const connectionString = await createTestDatabase();
  await migrate(connectionString);
  await appendLedgerEvents(connectionString, { tenants: 8, carts: 30, events: 600, seed: 91 });
  const consumer = postgreSQLEventStoreConsumer({
    connectionString,
    stopWhen: { noMessagesLeft: true },
    processors: [postgreSQLProjector({ processorId: 'ledger-emmett', projection: ledgerProjection('ledger-emmett'), connectionOptions: { connectionString } })],
  });
  await consumer.start();
  await consumer.close();
  await appendLedgerEvents(connectionString, { tenants: 8, carts: 30, events: 600, seed: 92 });
  const db = new pg.Pool({ connectionString });
  const { rows } = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM ledger_audit WHERE projector = 'ledger-emmett'");
  return { connectionString, db, emmettApplied: Number(rows[0]!.n) };
};

const run = async (connectionString: string, projectors: URL, options: Partial<ProjectionEngineOptions> = {}): Promise<void> => {
  const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, ...options });
  await engine.start();
  try {
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
  } finally {
    await engine.stop();
  }
};

describe('a projector Emmett ran, moved to distributary', () => {
  it("is refused at start without adopt, naming Emmett's checkpoint and both ways out, and nothing is applied", async () => {
    const { connectionString, db, emmettApplied } = await halfRunByEmmett();
    try {
      expect(emmettApplied).toBe(600);
      const engine = projectionEngine({ connectionString, projectors: module('adoptNone'), logger: silentLogger });
      await expect(engine.start()).rejects.toThrow(
        /processor 'ledger-emmett' has Emmett's checkpoint \(partition emt:default at '0*600'\) and nothing of distributary's: starting would apply every event again\. Pass adopt: 'emmett-checkpoint' .* or adopt: 'rebuild'/,
      );
      const { rows } = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM ledger_audit WHERE projector = 'ledger-emmett'");
      expect(Number(rows[0]!.n)).toBe(600);
    } finally {
      await db.end();
    }
  });

  it("goes on after Emmett's checkpoint with adopt: 'emmett-checkpoint': no event applied twice, none skipped, and later starts go on from its own checkpoints", async () => {
    const { connectionString, db } = await halfRunByEmmett();
    try {
      await run(connectionString, module('adoptCheckpoint'));
      // The audit's unique (projector, tenant, position) would have failed a second application.
      expect(await readModelTotals(db, 'ledger-emmett')).toEqual(await foldFromStore(db));
      expect(await fifoViolations(db, 'ledger-emmett')).toEqual([]);
      await appendLedgerEvents(connectionString, { tenants: 8, carts: 30, events: 100, seed: 93 });
      await run(connectionString, module('adoptCheckpoint'));
      expect(await readModelTotals(db, 'ledger-emmett')).toEqual(await foldFromStore(db));
      const { rows } = await db.query<{ decision: string }>('SELECT decision FROM distributary_adoptions');
      expect(rows).toEqual([{ decision: 'emmett-checkpoint' }]);
      // Replaying it would leave out what Emmett applied: a rebuild is refused, saying why.
      const engine = projectionEngine({ connectionString, projectors: module('adoptCheckpoint'), logger: silentLogger });
      await engine.start();
      try {
        await expect(engine.rebuild('ledger-emmett', { timeoutMs: 30_000 })).rejects.toThrow(/went on from Emmett's checkpoint .* a replay would leave out the events Emmett applied/);
      } finally {
        await engine.stop();
      }
      expect(await readModelTotals(db, 'ledger-emmett')).toEqual(await foldFromStore(db));
    } finally {
      await db.end();
    }
  });

  it("goes on after Emmett's checkpoint over JetStream too", async () => {
    const { connectionString, db } = await halfRunByEmmett();
    const app = uniqueApp();
    const shopRelay = relay({ connectionString, nats: { servers: natsUrl() }, app, logger: silentLogger });
    await shopRelay.start();
    try {
      await shopRelay.whenCaughtUp({ timeoutMs: 60_000 });
      await run(connectionString, module('adoptCheckpoint'), { transport: { type: 'jetstream', servers: natsUrl(), app } });
      expect(await readModelTotals(db, 'ledger-emmett')).toEqual(await foldFromStore(db));
    } finally {
      await shopRelay.stop();
      await db.end();
    }
  });

  it("rebuilds with adopt: 'rebuild': the projection's truncate, then every event once", async () => {
    const { connectionString, db } = await halfRunByEmmett();
    try {
      await db.query("UPDATE ledger_totals SET total = total + 1000 WHERE projector = 'ledger-emmett'");
      await run(connectionString, module('adoptRebuild'));
      expect(await readModelTotals(db, 'ledger-emmett')).toEqual(await foldFromStore(db));
      const { rows } = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM ledger_audit WHERE projector = 'ledger-emmett'");
      expect(Number(rows[0]!.n)).toBe(1200);
      // Taken over once: a second start neither asks again nor rebuilds again.
      await db.query("UPDATE ledger_totals SET total = total + 1 WHERE projector = 'ledger-emmett' AND cart_id = 'cart-0'");
      const before = await readModelTotals(db, 'ledger-emmett');
      await run(connectionString, module('adoptRebuild'));
      expect(await readModelTotals(db, 'ledger-emmett')).toEqual(before);
    } finally {
      await db.end();
    }
  });
});
