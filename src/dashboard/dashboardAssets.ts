import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export type Asset = { contentType: string; body: Buffer };

/** What the page loads, by the path it asks for; the page's own files sit next to this module (in `src/` and in `dist/`). */
const files = (): Record<string, { path: string; contentType: string }> => {
  const page = (name: string): string => fileURLToPath(new URL(`./page/${name}`, import.meta.url));
  const resolve = createRequire(import.meta.url).resolve;
  return {
    '/': { path: page('index.html'), contentType: 'text/html; charset=utf-8' },
    '/assets/dashboard.mjs': { path: page('dashboard.mjs'), contentType: 'text/javascript; charset=utf-8' },
    '/assets/dashboard.css': { path: page('dashboard.css'), contentType: 'text/css; charset=utf-8' },
    '/assets/uPlot.iife.min.js': { path: resolve('uplot/dist/uPlot.iife.min.js'), contentType: 'text/javascript; charset=utf-8' },
    '/assets/uPlot.min.css': { path: resolve('uplot/dist/uPlot.min.css'), contentType: 'text/css; charset=utf-8' },
  };
};

/** Reads the page and uPlot once, at start: a missing file fails the start, not a request. */
export const loadDashboardAssets = async (): Promise<Map<string, Asset>> => {
  const entries = await Promise.all(
    Object.entries(files()).map(async ([route, file]) => [route, { contentType: file.contentType, body: await readFile(file.path) }] as const),
  );
  return new Map(entries);
};
