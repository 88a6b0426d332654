import { describe, expect, it } from 'vitest';
import { projectionEngine } from '../../src/index.ts';
import { appendWorkload, shopWorkload } from '../../examples/shop/shopWorkload.ts';
import { useTestDatabase } from '../support/database.ts';
import { recordingLogger } from '../support/recordingLogger.ts';

const projectors = new URL('../support/projections/documents.ts', import.meta.url);

describe('the engine’s threads', () => {
  const database = useTestDatabase();

  it('run four Pongo projectors on a budget of two threads, quietly, though every collection is created on first write by threads at once', async () => {
    const { connectionString, db } = database;
    await appendWorkload(connectionString, shopWorkload({ tenants: 30, events: 3000, seed: 7 }), () => undefined, 4);
    const logger = recordingLogger();
    const engine = projectionEngine({ connectionString, projectors, threads: 2, logger });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 120_000 });
      const status = engine.status();
      expect(status.projectors).toHaveLength(4);
      for (const projector of status.projectors) expect(projector.threads).toBeLessThanOrEqual(2);
      const threads = new Set((await engine.schedulerSnapshot()).map((snapshot) => snapshot.thread));
      expect([...threads].sort()).toEqual([0, 1]);
    } finally {
      await engine.stop();
    }
    expect(logger.lines).toEqual([]);
    const documents = async (table: string) => (await db.query<{ _id: string; data: unknown }>(`SELECT _id, data FROM ${table} ORDER BY _id`)).rows;
    const carts = await documents('carts_summary');
    expect(carts.length).toBeGreaterThan(100);
    expect(await documents('carts_summary_batch')).toEqual(carts);
    expect(await documents('open_carts_batch')).toEqual(await documents('open_carts'));
  });

  it('refuses more dedicated partitions than the budget can give a thread of their own, naming the option', async () => {
    const engine = projectionEngine({ connectionString: database.connectionString, projectors: new URL('../support/projections/dedicatedLedger.ts', import.meta.url), threads: 2 });
    await expect(engine.start()).rejects.toThrow(/2 dedicated partition\(s\) need 3 threads \(one left for the rest\), but the engine's budget is 2; raise options.threads/);
    await engine.stop();
  });
});
