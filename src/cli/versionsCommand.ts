import { projectorVersions, type ProjectorVersions } from '../operations/versions.ts';
import { printTable } from './printTable.ts';

type VersionsInput = {
  /** After `versions`: the subcommand and its arguments. */
  args: readonly string[];
  yes: boolean;
  connectionString: string;
  fail: (message: string) => never;
};

const subcommands: Record<string, (admin: ProjectorVersions, args: readonly string[], input: VersionsInput) => Promise<void>> = {
  async list(admin, [processorId, ...rest], input) {
    if (rest.length > 0) input.fail(`versions list takes at most one projector id, got '${input.args.slice(1).join(' ')}'`);
    const rows = await admin.list(processorId);
    printTable(
      ['projector', 'version', 'state', 'read model', 'runs as', 'registered', 'switched'],
      rows.map((row) => [row.processorId, String(row.version), row.state, row.readModel ?? '', row.runtimeId, row.registeredAt.toISOString(), row.switchedAt?.toISOString() ?? '']),
    );
  },
  async drop(admin, args, input) {
    const [processorId, version] = args.length === 2 ? (args as [string, string]) : input.fail('versions drop takes a projector id and a version');
    const number = Number(version);
    if (!Number.isInteger(number) || number < 1) input.fail(`versions drop: the version must be a positive integer, got '${version}'`);
    if (!input.yes) input.fail(`versions drop deletes the checkpoints of version ${version} of '${processorId}' (and a Pongo collection's table): add --yes to do it`);
    const { droppedTable } = await admin.drop(processorId, number);
    process.stdout.write(
      `version ${version} of '${processorId}' dropped: its checkpoints and state are gone; ${droppedTable === null ? 'its read model is not a Pongo collection: its tables are yours to drop' : `table ${droppedTable} dropped`}\n`,
    );
  },
};

/** `distributary versions list|drop`. */
export const versionsCommand = async (input: VersionsInput): Promise<void> => {
  const [name = 'list', ...args] = input.args;
  const subcommand = subcommands[name] ?? input.fail(`unknown versions command '${name}'`);
  const admin = projectorVersions({ connectionString: input.connectionString });
  try {
    await subcommand(admin, args, input);
  } finally {
    await admin.close();
  }
};
