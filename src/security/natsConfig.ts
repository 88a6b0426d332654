import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigurationError } from '../core/errors.ts';
import { checkApp, tenantStreamNames } from '../jetstream/streamNames.ts';
import { appAccount, hostPermissions, relayPermissions, tenantInboxPrefix, tenantPermissions, type Permissions } from './natsPermissions.ts';

export type NatsConfigOptions = {
  /** The app's name, as given to the relay and the hosts. */
  app: string;
  /** Directory written to; kept seeds are read from it. */
  out: string;
  /** Tenants (partition keys) to give a user each; tenants already in `out` keep theirs. */
  tenants?: readonly string[];
  /** Processor ids whose durable consumers tenant users may not touch. */
  projectors?: readonly string[];
  /** JetStream's store directory, written into `nats-server.conf` (a reload keeps it). @default `{out}/jetstream` */
  storeDir?: string;
};

export type TenantUser = { tenant: string; token: string; stream: string; subjects: string; inboxPrefix: string; nkeyFile: string; publicKey: string };

export type NatsConfig = {
  /** `nats-server -c <configFile>`: JetStream on, and the app's account. */
  configFile: string;
  /** The account alone, to `include` from a configuration of one's own. */
  accountsFile: string;
  account: string;
  relay: { nkeyFile: string; publicKey: string };
  host: { nkeyFile: string; publicKey: string };
  tenants: TenantUser[];
  /** Tenants given a user by this call (the others were kept as they were). */
  added: string[];
};

const indexFile = 'tenants.json';

/** The seed kept in `file`, or a new user's seed written there (readable by its owner only). */
type NKeys = typeof import('@nats-io/nkeys');

const keptSeed = ({ createUser, fromSeed }: NKeys, file: string): { publicKey: string; created: boolean } => {
  if (existsSync(file)) {
    const seed = readFileSync(file, 'utf8').trim();
    try {
      return { publicKey: fromSeed(new TextEncoder().encode(seed)).getPublicKey(), created: false };
    } catch (error) {
      throw new ConfigurationError(`nats-config: ${file} does not hold an nkey seed (${(error as Error).message}); move it away to have a new one made`);
    }
  }
  const user = createUser();
  writeFileSync(file, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { publicKey: user.getPublicKey(), created: true };
};

const readIndex = (out: string): TenantUser[] => {
  const file = join(out, indexFile);
  if (!existsSync(file)) return [];
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TenantUser[];
  } catch (error) {
    throw new ConfigurationError(`nats-config: ${file} is not the tenant index this command writes: ${(error as Error).message}`);
  }
};

const user = (publicKey: string, permissions: Permissions) => ({ nkey: publicKey, permissions });

/**
 * Writes a nats-server configuration for one app: an account of its own holding a relay user, a
 * projection-host user and one user per tenant (see natsPermissions), authenticated by nkeys whose
 * seeds are files next to it (`relay.nk`, `host.nk`, `tenants/{token}.nk`). Seeds already there are
 * kept, so running it again with more tenants adds theirs and leaves every other credential as it was;
 * reload the server (`nats-server --signal reload`) to apply it.
 */
export const natsConfig = async (options: NatsConfigOptions): Promise<NatsConfig> => {
  const app = checkApp(options.app);
  if (typeof options.out !== 'string' || options.out === '') throw new ConfigurationError('nats-config: options.out must name a directory');
  const tenants = options.tenants ?? [];
  for (const tenant of tenants)
    if (typeof tenant !== 'string' || tenant === '') throw new ConfigurationError(`nats-config: a tenant must be a non-empty partition key, got ${JSON.stringify(tenant)}`);
  const projectors = options.projectors ?? [];
  const { out } = options;
  // Loaded here: an application that never writes a configuration never loads a NATS package.
  const nkeys = await import('@nats-io/nkeys');
  mkdirSync(join(out, 'tenants'), { recursive: true });

  const relay = keptSeed(nkeys, join(out, 'relay.nk'));
  const host = keptSeed(nkeys, join(out, 'host.nk'));
  const known = new Map(readIndex(out).map((entry) => [entry.tenant, entry]));
  const added: string[] = [];
  for (const tenant of new Set([...known.keys(), ...tenants])) {
    const names = tenantStreamNames(app, tenant);
    const nkeyFile = join('tenants', `${names.token}.nk`);
    const seed = keptSeed(nkeys, join(out, nkeyFile));
    if (!known.has(tenant)) added.push(tenant);
    known.set(tenant, { tenant, token: names.token, stream: names.stream, subjects: names.subjects, inboxPrefix: tenantInboxPrefix(tenant), nkeyFile, publicKey: seed.publicKey });
  }
  const tenantUsers = [...known.values()].sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));

  const account = appAccount(app);
  const accounts = {
    [account]: {
      jetstream: 'enabled',
      users: [
        user(relay.publicKey, relayPermissions(app)),
        user(host.publicKey, hostPermissions(app)),
        ...tenantUsers.map((t) => user(t.publicKey, tenantPermissions(app, t.tenant, projectors))),
      ],
    },
  };
  const accountsFile = join(out, 'accounts.conf');
  const configFile = join(out, 'nats-server.conf');
  // JSON is nats-server configuration too, and quotes every '$JS...' subject (unquoted, '$' names a variable).
  writeFileSync(accountsFile, `# The NATS account of app '${app}': relay, host and ${tenantUsers.length} tenant user(s). Written by distributary nats-config.\naccounts: ${JSON.stringify(accounts, null, 2)}\n`);
  const storeDir = resolve(options.storeDir ?? join(out, 'jetstream'));
  // The store directory is in the file: nats-server reloads a configuration (SIGHUP) only when it names the same one.
  writeFileSync(configFile, `# nats-server -c ${configFile} [-p <port>]; reload after regenerating: nats-server --signal reload\njetstream { store_dir: ${JSON.stringify(storeDir)} }\ninclude ./accounts.conf\n`);
  writeFileSync(join(out, indexFile), `${JSON.stringify(tenantUsers, null, 2)}\n`);
  return {
    configFile,
    accountsFile,
    account,
    relay: { nkeyFile: join(out, 'relay.nk'), publicKey: relay.publicKey },
    host: { nkeyFile: join(out, 'host.nk'), publicKey: host.publicKey },
    tenants: tenantUsers.map((t) => ({ ...t, nkeyFile: join(out, t.nkeyFile) })),
    added,
  };
};
