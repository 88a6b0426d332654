import { describe, expect, it } from 'vitest';
import { projectionEngine, pongoBatchProjection, silentLogger } from '../../src/index.ts';
import { appendWorkload, shopWorkload } from '../../examples/shop/shopWorkload.ts';
import { useTestDatabase } from '../support/database.ts';
import { runUntilCaughtUp } from '../support/runEngine.ts';

const projectors = new URL('../support/projections/documents.ts', import.meta.url);

describe('pongoBatchProjection', () => {
  const database = useTestDatabase();

  it('stores the same documents as Emmett’s Pongo projection, deletes included, a batch at a time', async () => {
    const { connectionString, db } = database;
    await appendWorkload(connectionString, shopWorkload({ tenants: 20, events: 4000, seed: 91 }), () => undefined, 4);
    await runUntilCaughtUp(connectionString, projectors);
    const documents = async (table: string) => (await db.query<{ _id: string; data: unknown; version: string }>(`SELECT _id, data, _version::text AS version FROM ${table} ORDER BY _id`)).rows;
    const carts = await documents('carts_summary');
    expect(carts.length).toBeGreaterThan(100);
    expect(await documents('carts_summary_batch')).toEqual(carts);
    const open = await documents('open_carts');
    expect(open.length).toBeGreaterThan(0);
    expect(open.length).toBeLessThan(carts.length);
    expect(await documents('open_carts_batch')).toEqual(open);
  });

  it("rebuilds one tenant's documents through the partitionField it was given, equal again to Emmett's projection", async () => {
    const { connectionString, db } = database;
    const { rows } = await db.query<{ tenant: string }>("SELECT data->>'tenant' AS tenant, count(*) FROM carts_summary_batch GROUP BY 1 ORDER BY 2 DESC LIMIT 1");
    const tenant = rows[0]!.tenant;
    const documents = async (table: string) =>
      (await db.query<{ _id: string; data: unknown; version: string }>(`SELECT _id, data, _version::text AS version FROM ${table} WHERE data->>'tenant' = $1 ORDER BY _id`, [tenant])).rows;
    const expected = await documents('carts_summary');
    await db.query("UPDATE carts_summary_batch SET data = jsonb_set(data, '{total}', '-1') WHERE data->>'tenant' = $1", [tenant]);
    expect(await documents('carts_summary_batch')).not.toEqual(expected);
    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger });
    await engine.start();
    try {
      await engine.rebuild('docs-batch', { partition: tenant, timeoutMs: 60_000 });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
    } finally {
      await engine.stop();
    }
    expect(await documents('carts_summary_batch')).toEqual(expected);
  });

  it('refuses a collection name that is not a plain identifier', () => {
    expect(() => pongoBatchProjection({ collectionName: 'carts; DROP TABLE x', canHandle: [], getDocumentId: () => '', evolve: (d) => d, initialState: () => ({}) })).toThrow(
      /collectionName must be a plain SQL identifier, got "carts; DROP TABLE x"/,
    );
  });
});
