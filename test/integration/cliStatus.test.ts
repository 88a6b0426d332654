import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { projectionEngine, readStatus, silentLogger, type ProjectionEngine, type StatusModel } from '../../src/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/waitUntil.ts';
import { appendLedgerEvents } from '../support/workload.ts';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const projectors = (name: string): URL => new URL(`../support/projections/${name}.ts`, import.meta.url);

type Exit = { code: number | null; stdout: string; stderr: string };

/** Runs the real `distributary` command in a child process (stdout a pipe, not a terminal); resolves however it exits. */
const cli = (...args: string[]): Promise<Exit> =>
  new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });

/** Starts a long-running command; `output()` is what it printed so far. */
const startCli = (...args: string[]) => {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
};

/** Each tenant's last event in the store: the head its partitions must show. */
const storeHeads = async (db: ReturnType<typeof useTestDatabase>['db']): Promise<Map<string, string>> => {
  const { rows } = await db.query<{ tenant: string; head: string }>(
    "SELECT message_metadata->>'tenant' AS tenant, max(global_position)::text AS head FROM emt_messages GROUP BY 1",
  );
  return new Map(rows.map((row) => [row.tenant, row.head]));
};

const tenants = Array.from({ length: 5 }, (_, i) => `tenant-${i}`).sort();

describe('distributary status', () => {
  const database = useTestDatabase();

  const caughtUpEngine = async (): Promise<ProjectionEngine> => {
    const engine = projectionEngine({ connectionString: database.connectionString, projectors: projectors('hashLedger'), logger: silentLogger, threads: 1 });
    await engine.start();
    await engine.whenCaughtUp({ timeoutMs: 60_000 });
    const heads = await storeHeads(database.db);
    await waitUntil(
      'the engine has written every partition at its head',
      async () => {
        const { partitions } = await readStatus(database.db, { processorId: 'ledger-hash' });
        return partitions.length === tenants.length && partitions.every((p) => p.owner?.alive === true && p.checkpoint === heads.get(p.partition));
      },
      15_000,
      100,
    );
    return engine;
  };

  it('lists every partition with no lag and its checkpoint at the head once caught up, as JSON and as a table', async () => {
    const { connectionString, db } = database;
    await appendLedgerEvents(connectionString, { tenants: tenants.length, carts: 10, events: 600, seed: 11 });
    const engine = await caughtUpEngine();
    try {
      const hostId = engine.status().hostId;
      const heads = await storeHeads(db);

      const json = await cli('status', '--json', '--database-url', connectionString);
      expect(json).toMatchObject({ code: 0, stderr: '' });
      const model = JSON.parse(json.stdout) as StatusModel;
      expect(model.partitions.map((p) => p.partition).sort()).toEqual(tenants);
      for (const p of model.partitions) {
        expect(p).toMatchObject({ processorId: 'ledger-hash', lagEvents: 0, lagSeconds: 0, state: 'idle', checkpoint: heads.get(p.partition), head: heads.get(p.partition) });
        expect(p.owner).toMatchObject({ hostId, alive: true });
      }
      expect(model.hosts).toEqual([expect.objectContaining({ hostId, alive: true, role: 'active', partitions: tenants.length })]);
      expect(model.projectors).toEqual([expect.objectContaining({ processorId: 'ledger-hash', partitions: tenants.length, lagEvents: 0, applied: 600, states: { idle: tenants.length } })]);

      const table = await cli('status', '--database-url', connectionString);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(new RegExp(`^${hostId}\\s+default\\s+active\\s+in-process\\s+alive\\s`, 'm'));
      for (const tenant of tenants) {
        const head = heads.get(tenant)!;
        // projector, partition, lag events, lag, state, checkpoint, head, owner
        expect(table.stdout).toMatch(new RegExp(`^ledger-hash\\s+${tenant}\\s+0\\s+${hostId}\\s+\\d+\\s+0s\\s+idle\\s+${head}\\s+${head}\\s`, 'm'));
      }

      const limited = await cli('status', '--limit', '2', '--database-url', connectionString);
      expect(limited.stdout.split('\n').filter((line) => line.startsWith('ledger-hash  tenant-'))).toHaveLength(2);
      expect(limited.stdout).toContain(`... and ${tenants.length - 2} more partitions`);
    } finally {
      await engine.stop();
    }
  });

  it("shows a stopped engine's partitions as having no live owner", async () => {
    const { connectionString } = database;
    const engine = await caughtUpEngine();
    const hostId = engine.status().hostId;
    await engine.stop();

    const json = await cli('status', '--json', '--projector', 'ledger-hash', '--database-url', connectionString);
    expect(json.code).toBe(0);
    const model = JSON.parse(json.stdout) as StatusModel;
    expect(model.partitions).toHaveLength(tenants.length);
    expect(model.partitions.every((p) => p.state === 'no live owner' && p.owner?.hostId === hostId && p.owner.alive === false)).toBe(true);

    const table = await cli('status', '--projector', 'ledger-hash', '--database-url', connectionString);
    expect(table.stdout).toContain(`${tenants.length} partitions (${tenants.length} with no live owner)`);
    for (const tenant of tenants) expect(table.stdout).toMatch(new RegExp(`^ledger-hash\\s+${tenant}\\s+0\\s+${hostId}\\s+\\d+\\s+0s\\s+no live owner\\s`, 'm'));
    expect(table.stdout).toMatch(new RegExp(`^${hostId}\\s+default\\s+stopped\\s+in-process\\s+stopped\\s`, 'm'));
  });

  it('prints a fresh status every interval with --watch when stdout is not a terminal, and exits 0 on Ctrl-C', async () => {
    const watching = startCli('status', '--watch', '--interval', '0.3', '--projector', 'ledger-hash', '--database-url', database.connectionString);
    try {
      await waitUntil('two refreshes are printed', () => (watching.output().stdout.match(/^status at /gm) ?? []).length >= 2, 20_000);
    } finally {
      watching.child.kill('SIGINT');
    }
    expect(await watching.exited).toBe(0);
    const frames = watching.output().stdout.split(/^(?=status at )/m);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    const takenAt = frames.map((frame) => /^status at (\S+):/.exec(frame)![1]!);
    expect(new Set(takenAt).size).toBe(frames.length);
    for (const frame of frames) expect(frame).toMatch(/^ledger-hash\s+tenant-0\s/m);
    expect(watching.output().stderr).toBe('');
  });

  it('shows progress of run without a terminal: one line when caught up, and exits 0 on SIGINT', async () => {
    const { connectionString, db } = database;
    const { rows } = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM emt_messages WHERE partition = 'emt:default' AND NOT is_archived");
    const running = startCli('run', '--projectors', fileURLToPath(projectors('perPartitionLedger')), '--threads', '1', '--database-url', connectionString);
    try {
      await waitUntil('run says it caught up', () => running.output().stderr.includes('caught up:'), 60_000);
    } finally {
      running.child.kill('SIGINT');
    }
    expect(await running.exited).toBe(0);
    expect(running.output().stderr).toMatch(new RegExp(`^caught up: ${Number(rows[0]!.n).toLocaleString('en-US')} events in `, 'm'));
  });

  it('refuses an unknown flag, a flag the command does not take and a bad number, naming the flag', async () => {
    const unknown = await cli('status', '--bogus', '--database-url', database.connectionString);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^distributary: unknown option '--bogus'$/m);
    expect(unknown.stdout).toBe('');

    const notTaken = await cli('status', '--threads', '2', '--database-url', database.connectionString);
    expect(notTaken.code).toBe(2);
    expect(notTaken.stderr).toContain('status does not take --threads');

    const badNumber = await cli('status', '--limit', 'ten', '--database-url', database.connectionString);
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toContain("--limit must be an integer >= 0, got 'ten'");

    const badPort = await cli('dashboard', '--port', '70000', '--database-url', database.connectionString);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain("--port must be an integer from 0 to 65535, got '70000'");
  });
});
