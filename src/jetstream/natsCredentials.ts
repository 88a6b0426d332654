import { ConfigurationError } from '../core/errors.ts';

/**
 * How a relay or a host proves who it is to nats-server: at most one of a user and password, a
 * token, an nkey seed file (what `distributary nats-config` writes) or a JWT credentials file
 * (operator mode). None: the server's default user, as on an unsecured server.
 */
export type NatsCredentials = {
  user?: string;
  pass?: string;
  token?: string;
  /** A file holding a user's nkey seed (`SU...`), such as `relay.nk` or `host.nk` from `nats-config`. */
  nkeyFile?: string;
  /** A `.creds` file (user JWT and seed), for servers in operator mode. */
  credsFile?: string;
};

export const natsCredentialKeys = ['user', 'pass', 'token', 'nkeyFile', 'credsFile'] as const;

type Resolved = { kind: 'none' } | { kind: 'user'; user: string; pass: string } | { kind: 'token'; token: string } | { kind: 'nkey'; file: string } | { kind: 'creds'; file: string };
export type ResolvedNatsCredentials = Resolved;

/** Checks the credential options found at `path` of `owner`'s options (`relay: options.nats.user ...`). */
export const resolveNatsCredentials = (owner: string, path: string, options: NatsCredentials): ResolvedNatsCredentials => {
  const given = natsCredentialKeys.filter((key) => options[key] !== undefined);
  for (const key of given)
    if (typeof options[key] !== 'string' || options[key] === '') throw new ConfigurationError(`${owner}: options.${path}.${key} must be a non-empty string`);
  const kinds = new Set(given.map((key) => (key === 'pass' ? 'user' : key)));
  if (kinds.size > 1)
    throw new ConfigurationError(`${owner}: options.${path} takes one way to authenticate (user and pass, token, nkeyFile or credsFile), got ${given.join(', ')}`);
  if ((options.user === undefined) !== (options.pass === undefined)) throw new ConfigurationError(`${owner}: options.${path}.user and .pass go together`);
  if (options.user !== undefined) return { kind: 'user', user: options.user, pass: options.pass! };
  if (options.token !== undefined) return { kind: 'token', token: options.token };
  if (options.nkeyFile !== undefined) return { kind: 'nkey', file: options.nkeyFile };
  if (options.credsFile !== undefined) return { kind: 'creds', file: options.credsFile };
  return { kind: 'none' };
};
