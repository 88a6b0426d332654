import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { projectionEngine, silentLogger } from '../../src/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { appendLedgerEvents, readModelTotals } from '../support/workload.ts';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** Runs the command without blocking this process (the engine under test runs in it). */
const cli = (connectionString: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args, '--database-url', connectionString]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });

describe('distributary tenant', () => {
  const database = useTestDatabase();

  it('refuses to remove without --yes, removes with it (purging rows), lists the tenant as removed, and restores it', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: 3, carts: 10, events: 300, seed: 141 });
    const engine = projectionEngine({ connectionString, projectors: new URL('../support/projections/restorableLedger.ts', import.meta.url), logger: silentLogger, reader: { markIntervalMs: 100 } });
    await engine.start();
    try {
      await engine.whenCaughtUp({ timeoutMs: 30_000 });
      const refused = await cli(connectionString, 'tenant', 'remove', 'tenant-1');
      expect(refused.status).toBe(2);
      expect(refused.stderr).toMatch(/tenant remove deletes everything of 'tenant-1' but its events: add --yes to do it/);

      const removed = await cli(connectionString, 'tenant', 'remove', 'tenant-1', '--purge-read-models', '--yes');
      expect(removed.stderr).toBe('');
      expect(removed.stdout).toBe("tenant 'tenant-1' removed\n");
      expect([...(await readModelTotals(db, 'ledger-rebuild')).keys()].some((key) => key.startsWith('tenant-1/'))).toBe(false);

      const listed = await cli(connectionString, 'tenant', 'list');
      expect(listed.stdout).toMatch(/^tenant-1\s+0\s+0\s+0s\s+0\s+\d{4}-\d\d-\d\dT/m);
      expect(listed.stdout).toMatch(/^tenant-0\s+1\s/m);

      const restored = await cli(connectionString, 'tenant', 'restore', 'tenant-1');
      expect(restored.stdout).toMatch(/^tenant 'tenant-1' restored/);
      const again = await cli(connectionString, 'tenant', 'restore', 'tenant-1');
      expect(again.status).toBe(1);
      expect(again.stderr).toMatch(/tenant 'tenant-1' is not removed/);
    } finally {
      await engine.stop();
    }
  });
});
