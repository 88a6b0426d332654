import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('the shop demo', () => {
  it('runs on the embedded PostgreSQL and ends with every tenant matching the fold of its events', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_EVENTS: '1500', DEMO_TENANTS: '55' };
    delete env.DATABASE_URL;
    const { stdout } = await promisify(execFile)(process.execPath, ['examples/shop/run.ts'], { cwd: root, env, timeout: 120_000 });
    expect(stdout).toContain('Started an embedded PostgreSQL (PGlite)');
    expect(stdout).toContain('Top tenants by revenue');
    expect(stdout).toContain('Order confirmations the reactor sent');
    expect(stdout).toMatch(/All \d+ tenants match a plain fold of their events, and each received one confirmation per confirmed cart\./);
  });
});
