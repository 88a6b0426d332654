import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type pg from 'pg';
import { WaitTimeoutError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ProjectionEngine } from '../engine/projectionEngine.ts';
import { countStoreEvents } from '../postgres/countStoreEvents.ts';
import { readLastPosition } from '../postgres/readLastPosition.ts';
import type { EngineStatus } from '../router/status.ts';
import { rateMeter } from './rateMeter.ts';
import { duration } from './duration.ts';

/*
 * What `distributary run` shows while its engine catches up:
 *   waiting (engine starting) --follow--> measuring --> showing --caught up--> done
 *                                                          \--stop (SIGINT)--> done
 * Showing is a bar with rate and ETA on a terminal, a line every few seconds otherwise; logs written
 * meanwhile clear the bar's line first so the two do not run into each other.
 *
 * What it counts, on a host reading the store: store events from the slowest projector's low-water
 * mark when following began to the store's head then; an event is done once every projector has
 * committed past it (events a restart reads again and skips count as done quickly). On a host of a
 * JetStream group, which sees only its share: events delivered to this host, applied or not. Caught up
 * is the engine's own `whenCaughtUp`, which does not wait for halted or fenced partitions.
 */

export type CatchUpProgress = {
  /** Wraps a logger so that its lines do not land in the middle of the bar. */
  logger(inner: Logger): Logger;
  /** Starts showing progress of a started engine until it has caught up or `stop` is called. */
  follow(engine: ProjectionEngine, db: pg.Pool): Promise<void>;
  stop(): void;
};

type Probe = { done(): Promise<number>; total(): number };

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Counts store events as the slowest projector's low-water mark passes them: each tick counts only what it passed since the last. */
const storeProbe = async (engine: ProjectionEngine, db: pg.Pool): Promise<Probe> => {
  const slowest = (status: EngineStatus): bigint | undefined =>
    status.projectors.map((p) => p.lowWaterMark).reduce<bigint | undefined>((low, mark) => (low === undefined || mark < low ? mark : low), undefined);
  const head = (await readLastPosition(db)).global;
  const start = slowest(engine.status()) ?? head;
  const total = await countStoreEvents(db, { after: start, upTo: head });
  let counted = start;
  let done = 0;
  return {
    total: () => total,
    async done() {
      const mark = slowest(engine.status()) ?? counted;
      const upTo = mark < head ? mark : head;
      if (upTo > counted) {
        done += await countStoreEvents(db, { after: counted, upTo });
        counted = upTo;
      }
      return done;
    },
  };
};

/** Events delivered to this host of a group: applied ones, and the ones waiting in its partitions. */
const groupProbe = (engine: ProjectionEngine): Probe => {
  let total = 0;
  return {
    total: () => total,
    done() {
      const partitions = engine.status().projectors.flatMap((p) => p.partitions);
      const applied = partitions.reduce((sum, p) => sum + p.applied, 0);
      total = applied + partitions.reduce((sum, p) => sum + p.lag, 0);
      return Promise.resolve(applied);
    },
  };
};

/** Waits for the engine to catch up, again and again if the store keeps growing faster than a wait lasts. */
const caughtUp = async (engine: ProjectionEngine, stopped: AbortSignal) => {
  for (;;) {
    try {
      return await engine.whenCaughtUp({ timeoutMs: 60_000 });
    } catch (error) {
      if (!(error instanceof WaitTimeoutError) || stopped.aborted) throw error;
    }
  }
};

export const catchUpProgress = (options: { terminal: boolean; out: NodeJS.WriteStream; lineEveryMs: number; tickMs: number }): CatchUpProgress => {
  const { out } = options;
  const stopping = new AbortController();
  let bar: cliProgress.SingleBar | undefined;

  const write = (line: string): void => {
    out.write(`${line}\n`);
  };
  const clearBarLine = (): void => {
    if (bar !== undefined) out.write('\r\x1b[K');
  };

  const newBar = (total: number): cliProgress.SingleBar => {
    const shown = new cliProgress.SingleBar({
      stream: out,
      format: 'catching up [{bar}] {percentage}% | {value}/{total} events | {rate}/s | ETA {eta_formatted}',
      formatValue: (value, barOptions, type) => (type === 'value' || type === 'total' ? count(value) : cliProgress.Format.ValueFormat(value, barOptions, type)),
      hideCursor: true,
      etaBuffer: 40,
    });
    shown.start(total, 0, { rate: '0' });
    return shown;
  };

  const pause = (): Promise<void> => sleep(options.tickMs, undefined, { signal: stopping.signal }).catch(() => undefined);

  const show = async (probe: Probe): Promise<void> => {
    const rate = rateMeter(5000);
    let lastLine = Date.now();
    if (options.terminal) bar = newBar(probe.total());
    while (!stopping.signal.aborted) {
      // A count that fails (the database restarting) is tried again next tick; the engine waits it out too.
      const done = await probe.done().catch(() => undefined);
      if (done !== undefined) {
        const perSecond = rate(done);
        if (bar !== undefined) {
          bar.setTotal(Math.max(probe.total(), done));
          bar.update(done, { rate: count(perSecond) });
        } else if (Date.now() - lastLine >= options.lineEveryMs) {
          lastLine = Date.now();
          write(`caught up ${count(done)} of ${count(probe.total())} events, ${count(perSecond)}/s`);
        }
      }
      await pause();
    }
  };

  const follow = async (engine: ProjectionEngine, db: pg.Pool): Promise<void> => {
    const status = engine.status();
    if (status.role === 'standby') {
      write(`standing by: another host of group '${status.group}' reads the store; this one takes over if it stops`);
      return;
    }
    const started = Date.now();
    const probe = status.role === 'member' ? groupProbe(engine) : await storeProbe(engine, db);
    const showing = show(probe);
    try {
      const result = await caughtUp(engine, stopping.signal);
      stopping.abort();
      await showing;
      // Caught up to a head at least as far as the one at start: all of the total is done (a group
      // member's total is brought up to date by one last look).
      await probe.done().catch(() => undefined);
      const done = probe.total();
      bar?.setTotal(done);
      bar?.update(done);
      bar?.stop();
      bar = undefined;
      const seconds = (Date.now() - started) / 1000;
      const notWaited = result.stopped.map((p) => `${p.processorId}/${p.partition} (${p.state})`);
      if (done === 0 && notWaited.length === 0) return write('caught up: nothing to apply');
      write(
        `caught up: ${count(done)} events in ${duration(seconds)}${seconds > 0 ? ` (${count(done / seconds)}/s)` : ''}` +
          (notWaited.length > 0 ? `; not waiting for ${notWaited.length} partition(s): ${notWaited.slice(0, 10).join(', ')}` : ''),
      );
    } catch (error) {
      const stoppedMeanwhile = stopping.signal.aborted;
      stopping.abort();
      await showing;
      bar?.stop();
      bar = undefined;
      if (!stoppedMeanwhile) throw error;
    }
  };

  return {
    logger: (inner) => ({
      info: (message, details) => {
        clearBarLine();
        inner.info(message, details);
      },
      warn: (message, details) => {
        clearBarLine();
        inner.warn(message, details);
      },
      error: (message, details) => {
        clearBarLine();
        inner.error(message, details);
      },
    }),
    follow,
    stop() {
      stopping.abort();
      bar?.stop();
      bar = undefined;
    },
  };
};
