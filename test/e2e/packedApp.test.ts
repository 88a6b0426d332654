import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const npm = (cwd: string, ...args: string[]) => run('npm', args, { cwd, timeout: 240_000 });

type Manifest = { files: string[]; dependencies: Record<string, string> };
const manifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

type TenantReadModel = { tenant: string; balance: number; transactions: number; accounts: Record<string, number> };

/** What the example's read models should say: a plain fold of the events the store holds, per tenant. */
const foldStoredEvents = async (connectionString: string): Promise<Record<string, TenantReadModel>> => {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ message_type: string; message_data: { accountId: string; amount: number }; message_metadata: { tenant: string } }>(
      `SELECT message_type, message_data, message_metadata FROM emt_messages WHERE message_type IN ('Deposited', 'Withdrawn') ORDER BY global_position`,
    );
    const tenants: Record<string, TenantReadModel> = {};
    for (const { message_type, message_data, message_metadata } of rows) {
      const tenant = (tenants[message_metadata.tenant] ??= { tenant: message_metadata.tenant, balance: 0, transactions: 0, accounts: {} });
      const amount = message_type === 'Deposited' ? message_data.amount : -message_data.amount;
      tenant.balance += amount;
      tenant.transactions += 1;
      tenant.accounts[message_data.accountId] = (tenant.accounts[message_data.accountId] ?? 0) + amount;
    }
    return tenants;
  } finally {
    await client.end();
  }
};

describe('an application installing the packed package', () => {
  let work = '';
  let app = '';
  let packedFiles: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'distributary-packed-'));
    app = join(work, 'examples', 'app');
    // `npm pack` builds dist/ (prepare); it runs in a copy of the checkout, so the working tree's dist/,
    // which the demo and the benchmarks import, is left alone.
    const checkout = join(work, 'checkout');
    for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src', ...manifest(root).files])
      if (entry !== 'dist' && existsSync(join(root, entry))) cpSync(join(root, entry), join(checkout, entry), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    const { stdout } = await npm(checkout, 'pack', '--json', '--pack-destination', work);
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    packedFiles = packed!.files.map((file) => file.path);

    // The example expects the tarball where `npm pack` in the checkout leaves it, two directories up.
    cpSync(join(root, 'examples', 'app'), app, { recursive: true, filter: (source) => !['node_modules', 'package-lock.json'].includes(basename(source)) });
    const spec = manifest(app).dependencies.distributary;
    if (spec !== `file:../../${packed!.filename}`)
      throw new Error(`examples/app/package.json depends on distributary as '${spec}', but npm pack wrote ${packed!.filename}`);
    await npm(app, 'install', '--no-audit', '--no-fund', '--prefer-offline');
  }, 300_000);

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('gets the built library, the command and the thread bootstrap, and no sources', () => {
    expect(packedFiles).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'bin/distributary.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/workers/threadEntry.js', 'dist/workers/threadBootstrap.mjs']),
    );
    expect(packedFiles.filter((path) => !/^(dist|bin)\/|^(package\.json|README\.md|LICENSE)$/.test(path))).toEqual([]);
    expect(packedFiles.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
  });

  it('runs the example on worker threads of the installed package, printing each tenant as the fold of its events', async () => {
    const connectionString = await createTestDatabase();
    const env = { ...process.env, DATABASE_URL: connectionString };
    const { stdout } = await run(process.execPath, ['main.ts'], { cwd: app, env, timeout: 60_000 });

    const printed = stdout.trim().split('\n').map((line) => JSON.parse(line) as TenantReadModel);
    const expected = await foldStoredEvents(connectionString);
    expect(Object.keys(expected).sort()).toEqual(['acme', 'globex', 'initech']);
    expect(Object.fromEntries(printed.map((tenant) => [tenant.tenant, tenant]))).toEqual(expected);

    const status = await run(process.execPath, [join(app, 'node_modules', '.bin', 'distributary'), 'status'], { cwd: app, env, timeout: 30_000 });
    for (const word of ['accounts', 'tenant-totals', 'acme', 'globex', 'initech']) expect(status.stdout).toContain(word);
  });

  it('type-checks the example against the installed declarations', async () => {
    await expect(npm(app, 'run', 'typecheck')).resolves.toBeDefined();
  });
});
