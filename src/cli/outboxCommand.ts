import { outbox, type Outbox } from '../operations/outbox.ts';
import { printTable } from './printTable.ts';

type OutboxInput = { args: readonly string[]; id: string | undefined; connectionString: string; fail: (message: string) => never };

const subcommands: Record<string, (admin: Outbox, input: OutboxInput) => Promise<void>> = {
  async list(admin) {
    const pending = await admin.pending();
    printTable(
      ['reactor', 'topic', 'waiting', 'partitions', 'retrying', 'oldest'],
      pending.map((p) => [p.processorId, p.topic, String(p.messages), String(p.partitions), String(p.retrying), p.oldestAt.toISOString()]),
    );
    const dead = await admin.deadLetters();
    process.stdout.write(`\n${dead.length} dead letter(s)\n`);
    if (dead.length > 0)
      printTable(['id', 'reactor', 'partition', 'topic', 'key', 'attempts', 'error'], dead.map((d) => [d.id, d.processorId, d.partition, d.topic, d.key, String(d.attempts), d.lastError ?? '']));
  },
  async retry(admin, input) {
    const id = input.id ?? input.fail('outbox retry needs --id <id>');
    await admin.retry(id);
    process.stdout.write(`outbox dead letter ${id} is back in the outbox: the dispatchers deliver it next in its partition\n`);
  },
  async discard(admin, input) {
    const id = input.id ?? input.fail('outbox discard needs --id <id>');
    await admin.discard(id);
    process.stdout.write(`outbox dead letter ${id} discarded\n`);
  },
};

/** `distributary outbox list|retry|discard`. */
export const outboxCommand = async (input: OutboxInput): Promise<void> => {
  const [name = 'list', ...rest] = input.args;
  if (rest.length > 0) input.fail(`outbox ${name} takes no more arguments, got '${rest.join(' ')}'`);
  const subcommand = subcommands[name] ?? input.fail(`unknown outbox command '${name}'`);
  const admin = outbox({ connectionString: input.connectionString });
  try {
    await subcommand(admin, input);
  } finally {
    await admin.close();
  }
};
