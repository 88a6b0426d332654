import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type SteadyLoadReport = { seconds: number; events: number; behindTicks: number };

/**
 * Runs `steadyLoad.ts` in its own process (so the load does not share an event loop with what it
 * measures) and resolves with what it reports.
 */
export const runSteadyLoad = (
  connectionString: string,
  load: { rate: number; seconds: number; tenants: number; prefix: string; tenantPrefix?: string },
): Promise<SteadyLoadReport> =>
  new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL('./steadyLoad.ts', import.meta.url));
    const args = [script, connectionString, String(load.rate), String(load.seconds), String(load.tenants), load.prefix, load.tenantPrefix ?? 'tenant'];
    const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(output) as SteadyLoadReport) : reject(new Error(`load exited with ${code}`))));
  });
