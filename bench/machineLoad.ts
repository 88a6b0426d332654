import { readFileSync } from 'node:fs';

/** CPU time of the whole machine from /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal. */
const cpuTimes = (): number[] | undefined => {
  try {
    return readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  } catch {
    return undefined;
  }
};

/**
 * Starts watching how busy the machine is; the result says how much of its CPU was in use and how
 * much the hypervisor gave to others (steal), which explains a noisy latency figure.
 */
export const watchMachineLoad = (): (() => string) => {
  const before = cpuTimes();
  return () => {
    const after = cpuTimes();
    if (before === undefined || after === undefined) return 'machine load: unknown (no /proc/stat)';
    const delta = after.map((value, i) => value - before[i]!);
    const total = delta.reduce((sum, value) => sum + value, 0) || 1;
    const idle = delta[3]! + delta[4]!;
    return `machine: ${((100 * (total - idle - delta[7]!)) / total).toFixed(0)}% busy, ${((100 * delta[7]!) / total).toFixed(0)}% stolen by the hypervisor`;
  };
};
