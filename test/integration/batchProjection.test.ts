import { describe, expect, it } from 'vitest';
import { projectionEngine, pongoBatchProjection, silentLogger } from '../../src/index.ts';
import { appendWorkload, shopWorkload } from '../../examples/shop/shopWorkload.ts';
import { useTestDatabase } from '../support/database.ts';

const projectors = new URL('../support/projections/documents.ts', import.meta.url);

describe('pongoBatchProjection', () => {
  const database = useTestDatabase();

  it('stores the same documents as Emmett’s Pongo projection, deletes included, a batch at a time', async () => {
    const { connectionString, db } = database;
    await appendWorkload(connectionString, shopWorkload({ tenants: 20, events: 4000, seed: 91 }), () => undefined, 4);
    const engine = projectionEngine({ connectionString, projectors, logger: silentLogger });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 120_000 });
    } finally {
      await engine.stop();
    }
    const documents = async (table: string) => (await db.query<{ _id: string; data: unknown; version: string }>(`SELECT _id, data, _version::text AS version FROM ${table} ORDER BY _id`)).rows;
    const carts = await documents('carts_summary');
    expect(carts.length).toBeGreaterThan(100);
    expect(await documents('carts_summary_batch')).toEqual(carts);
    const open = await documents('open_carts');
    expect(open.length).toBeGreaterThan(0);
    expect(open.length).toBeLessThan(carts.length);
    expect(await documents('open_carts_batch')).toEqual(open);
  });

  it('refuses a collection name that is not a plain identifier', () => {
    expect(() => pongoBatchProjection({ collectionName: 'carts; DROP TABLE x', canHandle: [], getDocumentId: () => '', evolve: (d) => d, initialState: () => ({}) })).toThrow(
      /collectionName must be a plain SQL identifier, got "carts; DROP TABLE x"/,
    );
  });
});
