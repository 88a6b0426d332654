import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import { ConfigurationError } from '../core/errors.ts';
import type { ResolvedNatsCredentials } from './natsCredentials.ts';

const readSecret = (file: string, what: string): Uint8Array => {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (error) {
    throw new ConfigurationError(`cannot read the NATS ${what} file ${file}: ${(error as Error).message}`);
  }
};

/** The connect options of resolved credentials; files are read here, each time a connection is made. */
export const natsAuthOptions = (credentials: ResolvedNatsCredentials): Partial<ConnectionOptions> => {
  switch (credentials.kind) {
    case 'none':
      return {};
    case 'user':
      return { user: credentials.user, pass: credentials.pass };
    case 'token':
      return { token: credentials.token };
    case 'nkey': {
      const seed = new TextDecoder().decode(readSecret(credentials.file, 'nkey seed')).trim();
      if (!/^SU[A-Z2-7]+$/.test(seed)) throw new ConfigurationError(`the NATS nkey seed file ${credentials.file} does not hold a user seed (SU...)`);
      return { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) };
    }
    case 'creds':
      return { authenticator: credsAuthenticator(readSecret(credentials.file, 'credentials')) };
  }
};
