// Worker threads start here. Node 22.18+ strips TypeScript types itself; on an older Node, a
// TypeScript projector module (or this package's own sources, in development) needs `tsx`, registered
// inside the thread before anything else is imported.
import { workerData } from 'node:worker_threads';

const isTypeScript = (url) => /\.[cm]?tsx?$/.test(new URL(url).pathname);
if (!process.features.typescript && (isTypeScript(workerData.entryUrl) || isTypeScript(workerData.projectorsUrl))) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entryUrl);
