import type pg from 'pg';
import { requestRebuild } from '../postgres/requestRebuild.ts';
import type { RebuildView } from '../status/statusModel.ts';
import { duration } from './duration.ts';
import { followRebuild } from './followRebuild.ts';
import { percent, rebuildTarget } from './rebuildTable.ts';

/**
 * `distributary rebuild <projector>`: asks for the rebuild and, with `wait`, follows it to its end
 * (a bar on a terminal, lines otherwise); sets the exit code from how it ended.
 */
export const requestAndFollowRebuild = async (input: {
  db: pg.Pool;
  processorId: string;
  partition: string | null;
  wait: boolean;
  timeoutSeconds: number | undefined;
}): Promise<void> => {
  const { db, processorId, partition, wait, timeoutSeconds } = input;
  const id = await requestRebuild(db, { processorId, partition });
  const what = `rebuild ${id} of ${rebuildTarget({ processorId, partition })}`;
  if (!wait) {
    process.stdout.write(`${what} requested; distributary rebuild list shows how it goes\n`);
    return;
  }
  // Ctrl-C stops following, not the rebuild: that runs on the host that owns the work.
  const stopping = new AbortController();
  const stop = (): void => stopping.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const followed = await followRebuild({
      db,
      id,
      processorId,
      terminal: process.stderr.isTTY,
      out: process.stderr,
      lineEveryMs: 2000,
      tickMs: 250,
      timeoutMs: timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000,
      signal: stopping.signal,
    });
    const state = (view: RebuildView | undefined): string =>
      view === undefined ? '' : ` (${view.status}${view.status === 'running' ? `, ${percent(view.progress)}` : ''})`;
    switch (followed.outcome) {
      case 'done':
        process.stdout.write(`${what} done: ${followed.rebuild.replayed.toLocaleString('en-US')} events replayed in ${duration(followed.seconds)}\n`);
        return;
      case 'failed':
        process.stderr.write(`distributary rebuild: ${what} failed: ${followed.rebuild.error ?? 'no reason given'}\n`);
        process.exitCode = 1;
        return;
      case 'gone':
        process.stderr.write(`distributary rebuild: ${what} is gone: its row was deleted\n`);
        process.exitCode = 1;
        return;
      case 'timed out':
        process.stderr.write(`distributary rebuild: ${what} not done within ${duration(timeoutSeconds ?? 0)}${state(followed.rebuild)}; it goes on: distributary rebuild list shows it\n`);
        process.exitCode = 1;
        return;
      case 'stopped':
        process.stderr.write(`stopped following ${what}${state(followed.rebuild)}; it goes on: distributary rebuild list shows it\n`);
        process.exitCode = 130;
        return;
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
};
