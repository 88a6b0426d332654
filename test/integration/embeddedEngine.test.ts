import { describe, expect, it } from 'vitest';
import { projectionEngine, silentLogger } from '../../src/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { appendLedgerEvents, fifoViolations, foldFromStore, readModelTotals } from '../support/workload.ts';

const projectorsUrl = (name: string): URL => new URL(`../support/projections/${name}.ts`, import.meta.url);

describe('embedded engine', () => {
  const database = useTestDatabase();

  it.each([
    ['hash placement', 'hashLedger', 'ledger-hash'],
    ['per-partition placement', 'perPartitionLedger', 'ledger-per-partition'],
  ])('applies every tenant in order with %s and equals the fold of the events', async (_name, module, processorId) => {
    await appendLedgerEvents(database.connectionString, { tenants: 12, carts: 30, events: 3000, seed: 7 });
    const engine = projectionEngine({ connectionString: database.connectionString, projectors: projectorsUrl(module), logger: silentLogger, lease: { timeoutMs: 3000 }, threads: 3 });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      expect(await readModelTotals(database.db, processorId)).toEqual(await foldFromStore(database.db));
      expect(await fifoViolations(database.db, processorId)).toEqual([]);
      const status = engine.status();
      expect(status.role).toBe('active');
      const partitions = status.projectors[0]!.partitions;
      expect(partitions.map((p) => p.partition).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `tenant-${i}`).sort());
      expect(partitions.every((p) => p.lag === 0 && p.checkpoint !== null)).toBe(true);
      expect(new Set(partitions.map((p) => p.owner)).size).toBeGreaterThan(1);
    } finally {
      await engine.stop();
    }
  });
});
