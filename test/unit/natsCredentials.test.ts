import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { describe, expect, it } from 'vitest';
import { natsCredentialsOf } from '../../src/cli/natsFlags.ts';
import { natsAuthOptions } from '../../src/jetstream/natsAuth.ts';
import { resolveNatsCredentials } from '../../src/jetstream/natsCredentials.ts';
import { relay } from '../../src/index.ts';

describe('NATS credentials', () => {
  it('takes one way to authenticate and names what is wrong', () => {
    expect(resolveNatsCredentials('relay', 'nats', {})).toEqual({ kind: 'none' });
    expect(resolveNatsCredentials('relay', 'nats', { user: 'u', pass: 'p' })).toEqual({ kind: 'user', user: 'u', pass: 'p' });
    expect(() => resolveNatsCredentials('relay', 'nats', { user: 'u' })).toThrow('relay: options.nats.user and .pass go together');
    expect(() => resolveNatsCredentials('relay', 'nats', { token: 't', nkeyFile: 'f' })).toThrow('relay: options.nats takes one way to authenticate (user and pass, token, nkeyFile or credsFile), got token, nkeyFile');
    expect(() => resolveNatsCredentials('projectionEngine', 'transport', { token: '' })).toThrow('projectionEngine: options.transport.token must be a non-empty string');
    expect(() => relay({ connectionString: 'postgres://x', app: 'shop', nats: { servers: 'nats://x', password: 'p' } as never })).toThrow(/unknown option options\.nats\.password/);
  });

  it('reads an nkey seed file, and refuses one that holds no user seed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'distributary-creds-'));
    const good = join(dir, 'user.nk');
    writeFileSync(good, `${new TextDecoder().decode(createUser().getSeed())}\n`);
    expect(natsAuthOptions({ kind: 'nkey', file: good }).authenticator).toBeTypeOf('function');
    const bad = join(dir, 'bad.nk');
    writeFileSync(bad, 'not a seed');
    expect(() => natsAuthOptions({ kind: 'nkey', file: bad })).toThrow(`the NATS nkey seed file ${bad} does not hold a user seed (SU...)`);
    expect(() => natsAuthOptions({ kind: 'creds', file: join(dir, 'missing.creds') })).toThrow(/cannot read the NATS credentials file .*missing\.creds/);
  });

  it('takes the command line first, the environment otherwise, never a mix', () => {
    const env = { NATS_USER: 'env-user', NATS_PASSWORD: 'env-pass', NATS_NKEY: '' };
    expect(natsCredentialsOf({}, env)).toEqual({ user: 'env-user', pass: 'env-pass' });
    expect(natsCredentialsOf({ 'nats-nkey': 'host.nk' }, env)).toEqual({ nkeyFile: 'host.nk' });
    expect(natsCredentialsOf({}, {})).toEqual({});
  });
});
