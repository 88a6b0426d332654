// Worker threads start here: TypeScript projector modules (and this package's own sources, in
// development) need a loader registered inside the thread before anything else is imported.
import { workerData } from 'node:worker_threads';

const isTypeScript = (url) => /\.[cm]?tsx?$/.test(new URL(url).pathname);
if (isTypeScript(workerData.entryUrl) || isTypeScript(workerData.projectorsUrl)) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entryUrl);
