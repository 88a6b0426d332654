import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type pg from 'pg';
import { readStatus } from '../status/readStatus.ts';
import type { RebuildView, StatusModel } from '../status/statusModel.ts';
import { duration } from './duration.ts';
import { rateMeter } from './rateMeter.ts';
import { percent, rebuildTarget } from './rebuildTable.ts';

/*
 * What `distributary rebuild` shows while it follows the rebuild it asked for, read from the status
 * model every tick:
 *   requested --a host starts it--> running --> done | failed
 * It stops following, and the rebuild goes on, at the deadline or when `signal` aborts (Ctrl-C); it
 * ends too if the rebuild's row is deleted.
 * On a terminal, a bar of the rebuild view's progress (global positions from the store's first event
 * to its head when the rebuild started) with the rate at which the rebuilt partitions apply events and
 * an ETA; otherwise a line every `lineEveryMs` while running. Either way, a line when it starts.
 */

export type FollowedRebuild =
  | { outcome: 'done' | 'failed'; rebuild: RebuildView; seconds: number }
  | { outcome: 'timed out' | 'stopped'; rebuild: RebuildView | undefined; seconds: number }
  /** The status no longer lists it: its row was deleted. */
  | { outcome: 'gone'; seconds: number };

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Events applied since their owners started by the partitions a rebuild replays: its growth is the replay's rate. */
const appliedBy = (model: StatusModel, rebuild: RebuildView): number =>
  model.partitions
    .filter((p) => p.processorId === rebuild.processorId && (rebuild.partition === null || p.partition === rebuild.partition))
    .reduce((sum, p) => sum + p.applied, 0);

const waitingLine = (model: StatusModel, rebuild: RebuildView): string => {
  const running = model.partitions.some((p) => p.processorId === rebuild.processorId && p.owner?.alive === true);
  return (
    `rebuild ${rebuild.id} of ${rebuildTarget(rebuild)} requested; the host reading the store for ${rebuild.processorId} starts it` +
    (running ? '' : ` (no live host runs ${rebuild.processorId} now: it starts when one does)`)
  );
};

export const followRebuild = async (options: {
  db: pg.Pool;
  id: string;
  processorId: string;
  terminal: boolean;
  out: NodeJS.WriteStream;
  lineEveryMs: number;
  tickMs: number;
  timeoutMs: number | undefined;
  signal: AbortSignal;
}): Promise<FollowedRebuild> => {
  const { out, signal } = options;
  const started = Date.now();
  const seconds = (): number => (Date.now() - started) / 1000;
  const rate = rateMeter(5000);
  const progressRate = rateMeter(10_000);
  let bar: cliProgress.SingleBar | undefined;
  let last: RebuildView | undefined;
  let lastLine = Date.now();
  let readFailed = false;
  const write = (line: string): void => {
    // Over the bar's line, which its next redraw puts back below.
    out.write(`${bar === undefined ? '' : '\r\x1b[K'}${line}\n`);
  };
  const stopBar = (done: boolean): void => {
    if (done) bar?.update(1000);
    bar?.stop();
    bar = undefined;
  };
  try {
    for (;;) {
      // A read that fails (the database restarting) is tried again next tick; the rebuild does not depend on it.
      const model = await readStatus(options.db, { processorId: options.processorId }).catch((error: unknown) => {
        if (!readFailed) write(`cannot read the status (trying again): ${error instanceof Error ? error.message : String(error)}`);
        readFailed = true;
        return undefined;
      });
      const rebuild = model?.rebuilds.find((r) => r.id === options.id);
      if (model !== undefined) readFailed = false;
      if (model !== undefined && rebuild !== undefined) {
        const perSecond = rate(appliedBy(model, rebuild));
        if (rebuild.status === 'done' || rebuild.status === 'failed') {
          stopBar(rebuild.status === 'done');
          return { outcome: rebuild.status, rebuild, seconds: seconds() };
        }
        if (rebuild.status !== last?.status) {
          write(rebuild.status === 'requested' ? waitingLine(model, rebuild) : `rebuild ${rebuild.id} of ${rebuildTarget(rebuild)}: read models reset, replaying through position ${rebuild.through ?? '(empty store)'}`);
          if (rebuild.status === 'running' && options.terminal) {
            bar = new cliProgress.SingleBar({
              stream: out,
              format: 'rebuilding [{bar}] {percentage}% | {rate} events/s | ETA {eta}',
              hideCursor: true,
            });
            bar.start(1000, 0, { rate: '0', eta: '–' });
          }
          lastLine = Date.now();
        }
        if (rebuild.status === 'running') {
          const progress = rebuild.progress ?? 0;
          // The ETA follows the progress over the last seconds: positions, not events, are what it measures.
          const perMillePerSecond = progressRate(progress * 1000);
          const eta = perMillePerSecond > 0 ? duration((1000 - progress * 1000) / perMillePerSecond) : '–';
          if (bar !== undefined) bar.update(Math.round(progress * 1000), { rate: count(perSecond), eta });
          else if (Date.now() - lastLine >= options.lineEveryMs) {
            lastLine = Date.now();
            write(`rebuild ${rebuild.id} of ${rebuildTarget(rebuild)}: running, ${percent(progress)} (position ${rebuild.position ?? 'none yet'} of ${rebuild.through ?? '?'}), ${count(perSecond)} events/s, ETA ${eta}`);
          }
        }
        last = rebuild;
      } else if (model !== undefined) {
        return { outcome: 'gone', seconds: seconds() };
      }
      if (options.timeoutMs !== undefined && Date.now() - started >= options.timeoutMs) return { outcome: 'timed out', rebuild: last, seconds: seconds() };
      await sleep(options.tickMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return { outcome: 'stopped', rebuild: last, seconds: seconds() };
    }
  } finally {
    stopBar(false);
  }
};
