import { setTimeout as sleep } from 'node:timers/promises';

const cursorHome = '\x1b[H';
const clearScreen = '\x1b[2J';
const clearLineRest = '\x1b[K';
const clearScreenRest = '\x1b[J';
const hideCursor = '\x1b[?25l';
const showCursor = '\x1b[?25h';

/** Cuts a frame to the terminal so that redrawing from the top covers all of the last one. */
const fit = (lines: readonly string[], columns: number, rows: number): string[] => {
  const cut = lines.map((line) => (line.length > columns ? line.slice(0, columns) : line));
  if (cut.length < rows) return cut;
  const kept = Math.max(1, rows - 2);
  return [...cut.slice(0, kept), `... ${cut.length - kept} more lines: enlarge the terminal, or narrow with --projector or --limit`];
};

/**
 * Shows `frame()` every `intervalMs` until SIGINT or SIGTERM, then resolves. `redraw` (a terminal):
 * each frame is drawn over the last from the top, line by line, without clearing first, so it does not
 * flicker. Otherwise frames follow one another, separated by a blank line. A frame is read only after
 * the last was shown, so a slow read never piles up; a frame that fails shows its error and the next
 * one is tried as usual.
 */
export const refreshEvery = async (options: {
  intervalMs: number;
  redraw: boolean;
  out: NodeJS.WriteStream;
  frame: () => Promise<string[]>;
  failed: (error: unknown) => string[];
}): Promise<void> => {
  const { out } = options;
  const stopping = new AbortController();
  const stop = (): void => stopping.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A frame that hangs (the database unreachable) must not keep Ctrl-C from ending the watch.
  const stopped = new Promise<undefined>((resolve) => stopping.signal.addEventListener('abort', () => resolve(undefined), { once: true }));
  if (options.redraw) out.write(hideCursor + clearScreen);
  let first = true;
  try {
    while (!stopping.signal.aborted) {
      const lines = await Promise.race([options.frame().catch(options.failed), stopped]);
      if (lines === undefined) break;
      if (options.redraw) {
        const fitted = fit(lines, out.columns || 80, out.rows || 24);
        out.write(`${cursorHome}${fitted.map((line) => line + clearLineRest).join('\n')}\n${clearScreenRest}`);
      } else {
        out.write(`${first ? '' : '\n'}${lines.join('\n')}\n`);
      }
      first = false;
      await sleep(options.intervalMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    if (options.redraw) out.write(showCursor);
  }
};
