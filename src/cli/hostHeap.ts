import { setFlagsFromString } from 'node:v8';

/**
 * How much V8 lets the heap of a `distributary run` or `relay` process grow past what survived the
 * last full collection, in percent. Where Node's heap limit is high (it sets it from the machine's
 * memory), V8 allows up to four times: a host over thousands of partitions, with some 50 MB alive,
 * then peaks near 300 MB on its main thread alone. A host process has nothing to gain from that.
 */
export const HostHeapGrowingPercent = 50;

/** Sets this process's heap growing factor, unless node was started with one of its own. */
export const limitHeapGrowth = (): void => {
  if (process.execArgv.some((flag) => /^--heap[-_]growing[-_]percent\b/.test(flag))) return;
  setFlagsFromString(`--heap-growing-percent=${HostHeapGrowingPercent}`);
};
