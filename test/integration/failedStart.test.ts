import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/freePort.ts';

describe('an engine that cannot start', () => {
  it('rejects start() with the reason and leaves nothing running: its process exits on its own', async () => {
    const port = await freePort();
    const script = fileURLToPath(new URL('../support/failedStart.ts', import.meta.url));
    const started = Date.now();
    const { stdout } = await promisify(execFile)(process.execPath, [script, `postgres://postgres@127.0.0.1:${port}/nowhere`], { timeout: 30_000 });
    expect(stdout).toMatch(/^refused: .*ECONNREFUSED|^refused: connect/m);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
