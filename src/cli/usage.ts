import { natsCredentialFlags } from './natsFlags.ts';

const header = 'distributary — partitioned projectors for Emmett event stores\n\nUsage:\n';
const footer = `
Options a command does not take are refused. The database URL defaults to DATABASE_URL.
`;

/** Each command's usage and the options it takes (besides --database-url and --help). */
export const commandUsage = {
  run: {
    flags: ['projectors', 'group', 'threads', 'app', 'nats', ...natsCredentialFlags, 'host-weight', 'host-id', 'metrics-port', 'metrics-host', 'dashboard-port', 'dashboard-token', 'verbose'],
    text: `  distributary run --projectors <module> [--group <name>] [--threads <n>] [--host-id <id>] [--database-url <url>]
                   [--app <name> [--nats <url>] [<nats credentials>] [--host-weight <n>]]
                   [--metrics-port <n> [--metrics-host <h>]] [--dashboard-port <n> [--dashboard-token <t>]] [--verbose]
      Run the engine for the projectors the module exports until SIGINT/SIGTERM (--threads: worker
      threads shared by all of them, default the cores less one). With --app, consume
      the tenant streams of that app's relay, sharing the partitions with the other hosts of the
      group (--host-weight: this host's share, default 1); SIGTERM hands its partitions over.
      While it catches up it shows progress on stderr: a bar with rate and ETA on a terminal, a line
      every 5 s otherwise, then one line when caught up. Reading the store, it counts the store's
      events up to its head at start that every projector has committed; in a JetStream group, the
      events delivered to this host.
      --metrics-port serves Prometheus metrics at /metrics and this host's live status at /status
      (on --metrics-host, default 127.0.0.1; 0 picks a free port). --dashboard-port serves the
      dashboard from this process on 127.0.0.1; --dashboard-token enables its retry, discard and rebuild buttons.
      Logs are JSON lines (pino) on stderr: warnings and errors, and with --verbose also sessions
      starting and partitions handed over. The process grows its heap by 50% past what survives a
      collection (V8's --heap-growing-percent=50, unless node was given one).
`,
  },
  relay: {
    flags: ['app', 'nats', ...natsCredentialFlags, 'metrics-port', 'metrics-host', 'verbose'],
    text: `  distributary relay --app <name> [--nats <url>] [<nats credentials>] [--metrics-port <n> [--metrics-host <h>]] [--verbose] [--database-url <url>]
      Move the event store's events to one JetStream stream per tenant until SIGINT/SIGTERM.
      The NATS URL defaults to NATS_URL, then nats://127.0.0.1:4222. --metrics-port serves its
      Prometheus metrics (published, position, lag, streams) at /metrics.
      NATS credentials, for run and relay: --nats-nkey <seed file> (what nats-config writes),
      --nats-creds <creds file>, --nats-token <t>, or --nats-user <u> --nats-pass <p>; without a
      flag, NATS_NKEY, NATS_CREDS, NATS_TOKEN or NATS_USER and NATS_PASSWORD (out of the process list).
`,
  },
  outbox: {
    flags: ['id'],
    text: `  distributary outbox [list] [--database-url <url>]
      What reactors put in the outbox and no dispatcher delivered yet, per reactor and topic (waiting,
      partitions, retrying, oldest), and the outbox's dead letters (messages that failed every retry).
  distributary outbox retry --id <id> | discard --id <id> [--database-url <url>]
      Put a dead letter back in the outbox (delivered next in its partition), or delete it for good.
`,
  },
  'nats-config': {
    flags: ['app', 'out', 'tenant', 'projectors', 'nats', ...natsCredentialFlags, 'store-dir'],
    text: `  distributary nats-config --app <name> [--out <dir>] [--tenant <key>]... [--nats <url> [<nats credentials>]]
                           [--projectors <module>] [--store-dir <dir>] [--database-url <url>]
      Write a nats-server configuration for the app into --out (default ./nats): an account of its
      own with a relay user, a projection-host user and one user per tenant, each an nkey whose seed
      is a file beside it (relay.nk, host.nk, tenants/<token>.nk; tenants.json lists them). A tenant
      user reaches only its own subjects and stream, not the projectors' durable consumers (of the
      --projectors module and of those that ran against the database). Tenants: each --tenant, and
      with --nats those in the app's registry (read as the relay unless credentials are given).
      Running it again adds new tenants and keeps every existing seed; then nats-server --signal reload.
`,
  },
  status: {
    flags: ['projector', 'json', 'watch', 'interval', 'limit'],
    text: `  distributary status [--projector <id>] [--limit <n>] [--json] [--watch [--interval <s>]] [--database-url <url>]
      What the engines and relays last wrote (every second, with their heartbeats): hosts and whether
      they are alive, per projector lag and states, the --limit partitions most behind (default 50)
      with lag in events and time, state, checkpoint, head, owner and thread, dead letters and weight,
      and relays. A partition whose host stopped or went silent shows 'no live owner'.
      Rebuilds open or finished in the last hour follow when there are any.
      --json prints the status model as JSON. --watch shows it again every --interval seconds
      (default 2) until Ctrl-C: in place on a terminal, one after another otherwise (with --json, one
      JSON document per line).
`,
  },
  dashboard: {
    flags: ['port', 'host', 'token'],
    text: `  distributary dashboard [--port <n>] [--host <h>] [--token <t>] [--database-url <url>]
      Serve the live dashboard (status, lag over time, dead letters, rebuilds) until SIGINT/SIGTERM,
      on --host (default 127.0.0.1) and --port (default 4400; 0 picks a free one). With --token,
      requests carrying it as a bearer token can retry and discard dead letters and rebuild
      partitions or projectors; without, it only reads.
`,
  },
  weights: {
    flags: ['projector', 'partition', 'weight'],
    text: `  distributary weights set --projector <id> --partition <key> --weight <n> [--database-url <url>]
      Set a partition's weight in fair queuing (default 1); running hosts apply it within a second or so.
  distributary weights list [--projector <id>] [--database-url <url>]
`,
  },
  scheduler: {
    flags: ['projector'],
    text: `  distributary scheduler snapshot [--projector <id>] [--database-url <url>]
      Per host and thread, partitions with events waiting or in flight (or a weight other than 1):
      queue depth, in flight, weight, batches and events dispatched. Hosts write it every 2 s.
`,
  },
  'dead-letters': {
    flags: ['projector', 'partition', 'status', 'id', 'reason'],
    text: `  distributary dead-letters list [--projector <id>] [--partition <key>] [--status <status>] [--database-url <url>]
      Events that could not be applied, with the error. Status: halted, skipped, retry, resolved, discarded.
  distributary dead-letters retry (--id <id> | --projector <id> --partition <key>) [--database-url <url>]
      Apply again: a halted partition resumes from its dead letter; a skipped event is applied on its own.
  distributary dead-letters discard --id <id> --reason <text> [--database-url <url>]
      Give up on one; a partition halted in front of it moves past it.
`,
  },
  rebuild: {
    flags: ['partition', 'no-wait', 'timeout', 'projector', 'limit'],
    text: `  distributary rebuild <projector> [--partition <key>] [--no-wait] [--timeout <s>] [--database-url <url>]
      Rebuild one partition (its rows deleted through the projector's truncatePartition, its
      checkpoint reset, its events replayed while the others keep running) or, without --partition,
      the whole projector (its projection's truncate, then every event). The host reading the store
      for the projector carries it out. Follows it until done: a bar with rate and ETA on a terminal,
      a line every 2 s otherwise (progress in global positions up to the store's head when it
      started). Exits 0 when done, 1 with the reason when it failed or is not done within --timeout
      seconds (default: no limit); Ctrl-C stops following, not the rebuild. --no-wait only asks.
  distributary rebuild list [--projector <id>] [--limit <n>] [--database-url <url>]
      Rebuilds, newest first (default 50): status, progress, when requested, how long they took,
      events replayed and why one failed.
`,
  },
  tenant: {
    flags: ['purge-read-models', 'yes', 'timeout'],
    text: `  distributary tenant remove <key> [--purge-read-models] --yes [--timeout <s>] [--database-url <url>]
      Remove a tenant everywhere: engines stop applying its events (they stay in the store), its
      checkpoints, leases, weights, dead letters and status go, and with --purge-read-models its
      read-model rows (each projector's truncatePartition); over JetStream its stream and consumers
      go too. It stays removed until restored. Refused without --yes; removing twice changes nothing.
  distributary tenant restore <key> [--timeout <s>] [--database-url <url>]
      Bring a removed tenant back: its partitions are rebuilt from its events.
  distributary tenant list [--database-url <url>]
      Tenants with their projectors, lag, events applied, and whether removed.
`,
  },
  versions: {
    flags: ['yes'],
    text: `  distributary versions [list [<projector>]] [--database-url <url>]
      The versions of each projector: current (what the application reads), building (beside it,
      until caught up), retired, dropped; its read model, the id it runs as, when it became current.
  distributary versions drop <projector> <version> --yes [--database-url <url>]
      Drop a version that is not current: its checkpoints, dead letters and state, and a Pongo
      collection's table. Remove it from the projectors module and restart the hosts first.
`,
  },
} as const;

export type CommandName = keyof typeof commandUsage;
export const isCommand = (name: string | undefined): name is CommandName => name !== undefined && Object.hasOwn(commandUsage, name);

/** The whole usage text. */
export const usage = `${header}${Object.values(commandUsage)
  .map((command) => command.text)
  .join('')}${footer}`;

/** The usage of one command. */
export const usageOf = (command: CommandName): string => `${header}${commandUsage[command].text}${footer}`;
