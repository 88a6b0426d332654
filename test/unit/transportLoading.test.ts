import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const loaded = (module: string): string[] =>
  execFileSync(process.execPath, [fileURLToPath(new URL('../support/loadedModules.ts', import.meta.url)), new URL(module, import.meta.url).href], { encoding: 'utf8' }).split('\n');

describe('loading the package', () => {
  it('loads no NATS client for an application that does not use JetStream', () => {
    const packages = loaded('../../src/index.ts');
    expect(packages).toContain('pg');
    expect(packages.filter((name) => name.startsWith('@nats-io/'))).toEqual([]);
  });

  it('loads the NATS client with the stream source', () => {
    expect(loaded('../../src/jetstream/streamSource.ts')).toContain('@nats-io/transport-node');
  });
});
