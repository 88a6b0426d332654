import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import pg from 'pg';
import { natsAuthOptions } from '../jetstream/natsAuth.ts';
import { resolveNatsCredentials, type NatsCredentials } from '../jetstream/natsCredentials.ts';
import { tenantRegistryBucket } from '../jetstream/streamNames.ts';
import { readTenantRegistry } from '../jetstream/tenantRegistry.ts';
import { loadProjectors } from '../projector/loadProjectors.ts';
import { natsConfig } from '../security/natsConfig.ts';

type NatsConfigInput = {
  app: string;
  out: string;
  tenants: readonly string[];
  storeDir: string | undefined;
  /** Where the registry is read from, with what credentials (the relay's seed in `out` when none). */
  nats: { servers: string; credentials: NatsCredentials } | undefined;
  projectorsUrl: string | undefined;
  connectionString: string | undefined;
};

/** Tenants in the app's registry, read as the relay (its seed in `out`) unless other credentials are given. */
const registryTenants = async (app: string, out: string, nats: NonNullable<NatsConfigInput['nats']>): Promise<string[]> => {
  const relaySeed = join(out, 'relay.nk');
  const given = Object.keys(nats.credentials).length > 0;
  const credentials = resolveNatsCredentials('nats-config', 'nats', given || !existsSync(relaySeed) ? nats.credentials : { nkeyFile: relaySeed });
  const nc = await connect({ servers: nats.servers, ...natsAuthOptions(credentials), maxReconnectAttempts: 0 });
  try {
    const registry = await new Kvm(nc).open(tenantRegistryBucket(app));
    return (await readTenantRegistry(registry)).map((entry) => entry.tenant);
  } finally {
    await nc.close();
  }
};

/** Projectors that ran against the database (every version), whose durable consumers tenants may not touch. */
const storedProjectors = async (connectionString: string): Promise<string[]> => {
  const db = new pg.Pool({ connectionString, max: 1, connectionTimeoutMillis: 10_000 });
  try {
    const { rows } = await db.query<{ id: string }>(
      `SELECT processor_id AS id FROM distributary_partition_status UNION SELECT runtime_id FROM distributary_read_models`,
    );
    return rows.map((row) => row.id);
  } finally {
    await db.end();
  }
};

/** `distributary nats-config`: writes the app's account and credentials, and says what it did. */
export const natsConfigCommand = async (input: NatsConfigInput): Promise<void> => {
  const fromRegistry = input.nats === undefined ? [] : await registryTenants(input.app, input.out, input.nats);
  const projectors = [
    ...(input.projectorsUrl === undefined ? [] : (await loadProjectors(input.projectorsUrl)).keys()),
    ...(input.connectionString === undefined ? [] : await storedProjectors(input.connectionString)),
  ];
  const written = await natsConfig({ app: input.app, out: input.out, tenants: [...input.tenants, ...fromRegistry], projectors, ...(input.storeDir === undefined ? {} : { storeDir: input.storeDir }) });
  const lines = [
    `wrote ${written.configFile} (account ${written.account}: relay, host and ${written.tenants.length} tenant user(s); ${written.added.length} added)`,
    `  nats-server -c ${written.configFile}     (after regenerating: nats-server --signal reload)`,
    `  relay:  distributary relay --app ${input.app} --nats-nkey ${written.relay.nkeyFile}`,
    `  hosts:  distributary run --app ${input.app} --nats-nkey ${written.host.nkeyFile} --projectors <module>`,
    `  tenants: ${join(input.out, 'tenants.json')} maps each tenant to its seed file and inbox prefix`,
    ...(projectors.length === 0 ? ['  no projector given (--projectors or --database-url): tenant users are not kept off the projectors\' durable consumers'] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
};
