// Scale: one host catching up a million events over 10,000 tenants in-process (hash placement), and
// 1,000 tenant streams x 3 projectors over JetStream on one nats-server; then both idle. The engine
// runs in a child process so that its peak RSS (VmHWM) and CPU come from /proc. Baseline in the same
// run: the in-process catch-up of a tenth of the events over 100 tenants.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { relay, silentLogger } from '../src/index.ts';
import { HostHeapGrowingPercent } from '../src/cli/hostHeap.ts';
import { SleepAfterMs } from '../src/jetstream/partitionConsumption.ts';
import { shopWorkload } from '../examples/shop/shopWorkload.ts';
import { startLocalNats } from '../test/support/localNats.ts';
import { benchServer, seedShopStore } from './benchDatabase.ts';

const tenants = Number(process.env.BENCH_TENANTS ?? 10_000);
const events = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const streamTenants = Number(process.env.BENCH_STREAMS ?? 1_000);
const streamEvents = Number(process.env.BENCH_STREAM_EVENTS ?? 100_000);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
const only = process.env.BENCH_ONLY;
const log = (line: string): boolean => process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const ClockTicks = 100;

/** CPU seconds (user + system) a process has used so far, from /proc. */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ClockTicks;
};
const peakRssMb = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** CPU used by each process over `seconds`, as a percentage of one core. */
const idleCpu = async (pids: number[], seconds: number): Promise<number[]> => {
  const before = pids.map(cpuSeconds);
  await sleep(seconds * 1000);
  return pids.map((pid, i) => ((cpuSeconds(pid) - before[i]!) / seconds) * 100);
};

type Measured = { seconds: number; peakRssMb: number; idleCpu: number[]; series: string };

/** Starts the engine child, waits until it caught up, measures its peak RSS and idle CPU (and `others`'), stops it. */
const runEngine = async (connectionString: string, options: { transport?: object; hostHeap?: boolean; projectors?: string; others?: number[] }): Promise<Measured> => {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./scaleEngine.ts', import.meta.url)), connectionString, new URL('./scaleProjectors.ts', import.meta.url).href, JSON.stringify({ transport: options.transport, hostHeap: options.hostHeap })],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BENCH_PROJECTORS: options.projectors ?? '1' } },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const lines = createInterface({ input: child.stdout });
    let caughtUpMs: number | undefined;
    let series = '';
    for await (const line of lines) {
      const counted = /^series (\d+) (\d+)/.exec(line);
      if (counted !== null) series = `${counted[2]} distributary metric series (${counted[1]} with the process's own)`;
      const match = /^caught-up (\d+)/.exec(line);
      if (match !== null) {
        caughtUpMs = Number(match[1]);
        break;
      }
    }
    if (caughtUpMs === undefined) throw new Error('the engine process ended before catching up');
    // Idle means after partitions had the time to fall asleep (SleepAfterMs without a message), and a little more.
    await sleep(SleepAfterMs + 2000);
    const pids = [child.pid!, ...(options.others ?? [])];
    const cpu = await idleCpu(pids, idleSeconds);
    return { seconds: caughtUpMs / 1000, peakRssMb: peakRssMb(child.pid!), idleCpu: cpu, series };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
};

const seeded = async (name: string, workloadTenants: number, workloadEvents: number, skew: 'zipf' | 'uniform' = 'zipf'): Promise<{ connectionString: string; events: number }> => {
  const workload = shopWorkload({ tenants: workloadTenants, events: workloadEvents, skew });
  const { connectionString, appendSeconds } = await seedShopStore(server, name, workload, 16);
  log(`${name}: ${workload.events} events over ${workload.expected.size} tenants (${skew}) appended in ${appendSeconds.toFixed(0)} s`);
  return { connectionString, events: workload.events };
};

const server = await benchServer();
try {
  if (only === undefined || only === 'in-process') {
    const base = await seeded('bench_scale_base', 100, events / 10);
    const baseRun = await runEngine(base.connectionString, {});
    const baseRate = base.events / baseRun.seconds;
    log(`baseline, in-process, 100 tenants: caught up in ${baseRun.seconds.toFixed(1)} s (${baseRate.toFixed(0)} events/s), peak RSS ${baseRun.peakRssMb.toFixed(0)} MB, idle CPU ${baseRun.idleCpu[0]!.toFixed(2)}% of a core`);
    const big = await seeded('bench_scale', tenants, events);
    const bigRun = await runEngine(big.connectionString, {});
    const bigRate = big.events / bigRun.seconds;
    log(`in-process, ${tenants} tenants: caught up in ${bigRun.seconds.toFixed(1)} s (${bigRate.toFixed(0)} events/s), peak RSS ${bigRun.peakRssMb.toFixed(0)} MB (target < 512), idle CPU ${bigRun.idleCpu[0]!.toFixed(2)}% of a core over ${idleSeconds} s (target < 5%)`);
    log(`ratio events/s ${tenants} tenants / 100 tenants: ${(bigRate / baseRate).toFixed(2)}`);
    log(`metrics with ${tenants} tenants: ${bigRun.series}; with 100 tenants: ${baseRun.series}`);
  }

  if (only === undefined || only === 'jetstream') {
    const nats = await startLocalNats();
    try {
      // Embedded in an app with Node's defaults, then in a process of its own as `distributary run` runs it.
      for (const [index, hostHeap] of [false, true].entries()) {
        const source = await seeded(`bench_scale_streams_${index}`, streamTenants, streamEvents, 'uniform');
        const app = `scale${index}`;
        const relaying = relay({ connectionString: source.connectionString, nats: { servers: nats.url }, app, logger: silentLogger });
        await relaying.start();
        try {
          const run = await runEngine(source.connectionString, { transport: { type: 'jetstream', servers: nats.url, app }, hostHeap, projectors: '3', others: [nats.pid()!, process.pid] });
          const nc = await connect({ servers: nats.url });
          const account = await (await jetstreamManager(nc)).getAccountInfo();
          await nc.close();
          const how = hostHeap ? `as distributary run (heap growing ${HostHeapGrowingPercent}%)` : "embedded, Node's heap defaults";
          log(
            `jetstream ${how}: ${streamTenants} streams x 3 projectors (${account.consumers} consumers on the server): relay + engine caught up in ${run.seconds.toFixed(1)} s (${(source.events / run.seconds).toFixed(0)} events/s per projector), engine peak RSS ${run.peakRssMb.toFixed(0)} MB (target < 400)`,
          );
          log(`jetstream ${how}, idle over ${idleSeconds} s, % of a core: engine ${run.idleCpu[0]!.toFixed(2)}, nats-server ${run.idleCpu[1]!.toFixed(2)}, relay (this process) ${run.idleCpu[2]!.toFixed(2)} (target < 5 each)`);
        } finally {
          await relaying.stop();
        }
      }
    } finally {
      await nats.stop();
    }
  }
} finally {
  await server.close();
}
