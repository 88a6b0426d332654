import { tenants, type Tenants } from '../operations/tenants.ts';
import { duration } from './duration.ts';
import { printTable } from './printTable.ts';

type TenantInput = {
  /** After `tenant`: the subcommand and the tenant key. */
  args: readonly string[];
  yes: boolean;
  purgeReadModels: boolean;
  timeoutMs: number;
  connectionString: string;
  fail: (message: string) => never;
};

const subcommands: Record<string, (admin: Tenants, key: string | undefined, input: TenantInput) => Promise<void>> = {
  async remove(admin, key, input) {
    const tenant = key ?? input.fail('tenant remove needs a tenant key');
    if (!input.yes) input.fail(`tenant remove deletes everything of '${tenant}' but its events: add --yes to do it`);
    const removed = await admin.remove(tenant, { purgeReadModels: input.purgeReadModels, timeoutMs: input.timeoutMs });
    process.stdout.write(
      removed.removedAt === null
        ? `tenant '${tenant}' removed: its events are no longer applied; no engine has cleaned up after it yet (the next one to run does)\n`
        : `tenant '${tenant}' removed${removed.error === null ? '' : ` (${removed.error})`}\n`,
    );
  },
  async restore(admin, key, input) {
    const tenant = key ?? input.fail('tenant restore needs a tenant key');
    await admin.restore(tenant, { timeoutMs: input.timeoutMs });
    process.stdout.write(`tenant '${tenant}' restored: its partitions are being rebuilt from its events (distributary rebuild list shows how it goes)\n`);
  },
  async list(admin) {
    const rows = await admin.list();
    printTable(
      ['tenant', 'projectors', 'lag events', 'max lag', 'applied', 'removed'],
      rows.map((row) => [
        row.partition,
        String(row.projectors),
        row.lagEvents.toLocaleString('en-US'),
        duration(row.maxLagSeconds),
        row.applied.toLocaleString('en-US'),
        row.removed ? (row.removedAt?.toISOString() ?? 'cleaning up') : '',
      ]),
    );
  },
};

/** `distributary tenant remove|restore|list`. */
export const tenantCommand = async (input: TenantInput): Promise<void> => {
  const [name = '', key, ...rest] = input.args;
  const subcommand = subcommands[name] ?? input.fail(`unknown tenant command '${name}'`);
  if (rest.length > 0) input.fail(`tenant ${name} takes one tenant key, got '${input.args.slice(1).join(' ')}'`);
  const admin = tenants({ connectionString: input.connectionString });
  try {
    await subcommand(admin, key, input);
  } finally {
    await admin.close();
  }
};
