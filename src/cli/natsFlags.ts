import type { NatsCredentials } from '../jetstream/natsCredentials.ts';

export type NatsFlagValues = { 'nats-user'?: string; 'nats-pass'?: string; 'nats-token'?: string; 'nats-nkey'?: string; 'nats-creds'?: string };

export const natsCredentialFlags = ['nats-user', 'nats-pass', 'nats-token', 'nats-nkey', 'nats-creds'] as const;

/**
 * The NATS credentials of a command: its flags, else the environment (NATS_USER and NATS_PASSWORD,
 * NATS_TOKEN, NATS_NKEY or NATS_CREDS naming a file), which keeps secrets out of the process list.
 */
export const natsCredentialsOf = (values: NatsFlagValues, env: NodeJS.ProcessEnv = process.env): NatsCredentials => {
  const flagged = natsCredentialFlags.some((flag) => values[flag] !== undefined);
  const pick = (flag: keyof NatsFlagValues, variable: string): string | undefined => (flagged ? values[flag] : env[variable] === '' ? undefined : env[variable]);
  const credentials: NatsCredentials = {
    user: pick('nats-user', 'NATS_USER'),
    pass: pick('nats-pass', 'NATS_PASSWORD'),
    token: pick('nats-token', 'NATS_TOKEN'),
    nkeyFile: pick('nats-nkey', 'NATS_NKEY'),
    credsFile: pick('nats-creds', 'NATS_CREDS'),
  };
  return Object.fromEntries(Object.entries(credentials).filter(([, value]) => value !== undefined));
};
