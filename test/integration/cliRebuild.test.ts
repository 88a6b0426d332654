import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { describe, expect, it } from 'vitest';
import { projectionEngine, silentLogger, type ProjectionEngine, type StatusModel } from '../../src/index.ts';
import { waitForRebuild } from '../../src/lifecycle/waitForRebuild.ts';
import { useTestDatabase } from '../support/database.ts';
import { appendLedgerEvents, foldFromStore, readModelTotals, type Totals } from '../support/workload.ts';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const projectors = new URL('../support/projections/rebuildLedgers.ts', import.meta.url);

type Exit = { code: number | null; stdout: string; stderr: string };

/** Runs the real `distributary` command in a child process (stdout and stderr pipes, not a terminal); resolves however it exits. */
const cli = (...args: string[]): Promise<Exit> =>
  new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });

const only = (totals: Totals, tenant: string): Totals => new Map([...totals].filter(([cart]) => cart.startsWith(`${tenant}/`)));

describe('distributary rebuild', () => {
  const database = useTestDatabase();

  const startedEngine = async (): Promise<ProjectionEngine> => {
    const engine = projectionEngine({ connectionString: database.connectionString, projectors, logger: silentLogger, threads: 2, reader: { markIntervalMs: 100 } });
    await engine.start();
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
    return engine;
  };

  it('rebuilds a corrupted partition of a running engine, showing progress and exiting 0 once done; refuses a partition of a projector without truncatePartition with exit 1; lists both', async () => {
    const { connectionString, db } = database;
    // Slow events spread through tenant-5's history keep its replay going for seconds, so progress lines show.
    const store = getPostgreSQLEventStore(connectionString);
    try {
      for (let round = 0; round < 25; round++) {
        await appendLedgerEvents(connectionString, { tenants: 8, carts: 20, events: 60, seed: 300 + round });
        await store.appendToStream('cart-slow', [{ type: 'ItemAdded', data: { cartId: 'slow', amount: 1, delayMs: 150 }, metadata: { tenant: 'tenant-5' } }]);
      }
    } finally {
      await store.close();
    }
    const engine = await startedEngine();
    try {
      await db.query("UPDATE ledger_totals SET total = total + 999 WHERE projector = 'ledger-rebuild' AND tenant = 'tenant-5'");
      expect(only(await readModelTotals(db, 'ledger-rebuild'), 'tenant-5')).not.toEqual(only(await foldFromStore(db), 'tenant-5'));

      const rebuilt = await cli('rebuild', 'ledger-rebuild', '--partition', 'tenant-5', '--timeout', '90', '--database-url', connectionString);
      expect(rebuilt.code).toBe(0);
      expect(rebuilt.stdout).toMatch(/^rebuild \d+ of ledger-rebuild\/tenant-5 done: [\d,]+ events replayed in \S+\n$/);
      expect(rebuilt.stderr).toMatch(/^rebuild \d+ of ledger-rebuild\/tenant-5 requested; the host reading the store for ledger-rebuild starts it$/m);
      expect(rebuilt.stderr).toMatch(/^rebuild \d+ of ledger-rebuild\/tenant-5: read models reset, replaying through position \d+$/m);
      expect(rebuilt.stderr).toMatch(/^rebuild \d+ of ledger-rebuild\/tenant-5: running, \d+% \(position (\d+|none yet) of \d+\), [\d,]+ events\/s, ETA \S+$/m);
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      expect(await readModelTotals(db, 'ledger-rebuild')).toEqual(await foldFromStore(db));

      const refused = await cli('rebuild', 'ledger-whole', '--partition', 'tenant-1', '--database-url', connectionString);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^distributary rebuild: rebuild \d+ of ledger-whole\/tenant-1 failed: projector 'ledger-whole' has no truncatePartition/m);
      expect(refused.stdout).toBe('');

      const list = await cli('rebuild', 'list', '--database-url', connectionString);
      expect(list).toMatchObject({ code: 0, stderr: '' });
      const lines = list.stdout.split('\n');
      expect(lines[0]).toMatch(/^id\s+projector\s+partition\s+status\s+progress\s+requested\s+took\s+replayed\s+error$/);
      // Newest first; a refused rebuild has no progress and never started.
      expect(lines[1]).toMatch(/^\s*\d+\s+ledger-whole\s+tenant-1\s+failed\s+\S+\s+0\s+projector 'ledger-whole' has no truncatePartition/);
      expect(lines[2]).toMatch(/^\s*\d+\s+ledger-rebuild\s+tenant-5\s+done\s+100%\s+\S+\s+\S+\s+[\d,]+$/);
      const filtered = await cli('rebuild', 'list', '--projector', 'ledger-rebuild', '--database-url', connectionString);
      expect(filtered.stdout.split('\n').filter((line) => /^\s*\d+\s/.test(line))).toEqual([expect.stringMatching(/ledger-rebuild\s+tenant-5\s+done/)]);

      // status shows them too, in its table and in the model.
      const status = await cli('status', '--database-url', connectionString);
      expect(status.stdout).toMatch(/^rebuilds, open or finished in the last hour\n/m);
      expect(status.stdout).toMatch(/^\s*\d+\s+ledger-rebuild\s+tenant-5\s+done\s+100%/m);
      const model = JSON.parse((await cli('status', '--json', '--database-url', connectionString)).stdout) as StatusModel;
      expect(model.rebuilds.map((r) => [r.processorId, r.partition, r.status, r.progress])).toEqual([
        ['ledger-whole', 'tenant-1', 'failed', null],
        ['ledger-rebuild', 'tenant-5', 'done', 1],
      ]);
      expect(model.rebuilds[0]!.error).toContain('truncatePartition');
      expect(model.rebuilds[1]!.replayed).toBeGreaterThan(0);
    } finally {
      await engine.stop();
    }
  });

  it('asks for a whole-projector rebuild with --no-wait and exits 0 at once; the engine carries it out', async () => {
    const { connectionString, db } = database;
    const engine = await startedEngine();
    try {
      await db.query("UPDATE ledger_totals SET total = 0 WHERE projector = 'ledger-whole'");
      const asked = await cli('rebuild', 'ledger-whole', '--no-wait', '--database-url', connectionString);
      expect(asked).toMatchObject({ code: 0, stderr: '' });
      const id = /^rebuild (\d+) of ledger-whole \(all partitions\) requested; distributary rebuild list shows how it goes\n$/.exec(asked.stdout)?.[1];
      expect(id).toBeDefined();
      expect(await waitForRebuild(db, id!, 60_000)).toMatchObject({ status: 'done', partition: null });
      await engine.whenCaughtUp({ timeoutMs: 60_000 });
      expect(await readModelTotals(db, 'ledger-whole')).toEqual(await foldFromStore(db));
    } finally {
      await engine.stop();
    }
  });

  it('refuses an unknown projector with exit 1 and wrong flags with exit 2, naming them', async () => {
    const { connectionString } = database;
    const unknown = await cli('rebuild', 'no-such-projector', '--no-wait', '--database-url', connectionString);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no projector 'no-such-projector' has run against this database");

    const listWithPartition = await cli('rebuild', 'list', '--partition', 'tenant-1', '--database-url', connectionString);
    expect(listWithPartition.code).toBe(2);
    expect(listWithPartition.stderr).toContain('rebuild list does not take --partition');

    const noWaitWithTimeout = await cli('rebuild', 'ledger-rebuild', '--no-wait', '--timeout', '5', '--database-url', connectionString);
    expect(noWaitWithTimeout.code).toBe(2);
    expect(noWaitWithTimeout.stderr).toContain('--timeout is how long to wait: it does not go with --no-wait');

    const badTimeout = await cli('rebuild', 'ledger-rebuild', '--timeout', '0', '--database-url', connectionString);
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain("--timeout must be a number > 0, got '0'");

    const notTaken = await cli('rebuild', 'ledger-rebuild', '--threads', '2', '--database-url', connectionString);
    expect(notTaken.code).toBe(2);
    expect(notTaken.stderr).toContain('rebuild does not take --threads');

    const nothing = await cli('rebuild', '--database-url', connectionString);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('rebuild needs a projector id (or list)');
  });

  it('gives up following at --timeout with exit 1 when no host starts the rebuild, leaving it requested', async () => {
    const { connectionString, db } = database;
    const followed = await cli('rebuild', 'ledger-rebuild', '--partition', 'tenant-0', '--timeout', '1', '--database-url', connectionString);
    expect(followed.code).toBe(1);
    expect(followed.stderr).toMatch(/requested; the host reading the store for ledger-rebuild starts it \(no live host runs ledger-rebuild now: it starts when one does\)$/m);
    expect(followed.stderr).toMatch(/^distributary rebuild: rebuild \d+ of ledger-rebuild\/tenant-0 not done within 1s \(requested\); it goes on: distributary rebuild list shows it$/m);
    const { rows } = await db.query<{ status: string }>("SELECT status FROM distributary_rebuilds WHERE partition = 'tenant-0'");
    expect(rows).toEqual([{ status: 'requested' }]);
  });
});
