import { abortableSleep } from './abortableSleep.ts';
import { backoffDelay, type ResolvedBackoffOptions } from './backoff.ts';

/** Between a session that ended and the next: a flapping session does not hammer the database. */
const SessionBackoff: ResolvedBackoffOptions = { initialMs: 500, maxMs: 30_000, jitter: 0.2 };
import type { Logger } from './logger.ts';

/** Work done while holding a lease: runs until aborted or it fails, then is closed. */
export type LeasedSession = {
  /** Resolves with why the session ended. */
  run(): Promise<string>;
  abort(reason: string): void;
  close(): Promise<void>;
};

export type LeaseLoopOptions<S extends LeasedSession> = {
  /** Names the work in logs, e.g. "reader of group 'default'". */
  name: string;
  /** Takes or renews the lease: true when held, false while another holder has it. */
  lease: { tryAcquire(): Promise<boolean> };
  timeoutMs: number;
  logger: Logger;
  open: () => Promise<S>;
  /** Called with the session when it starts, and with undefined when it ends. */
  onSession: (session: S | undefined) => void;
  signal: AbortSignal;
  /** Called once the first attempt settled: a session opened (after `onSession`), or the lease is held elsewhere, or opening failed. */
  onFirstAttempt?: () => void;
};

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/*
 * standby --lease won--> open session --run--> (renewing every third of the timeout) --ended--> close --backoff--> standby
 * A session ends when stopped, when it fails, when another holder takes the lease, or when the lease
 * could not be renewed within its timeout. The next session starts from what is stored.
 */
export const runLeaseLoop = async <S extends LeasedSession>(options: LeaseLoopOptions<S>): Promise<void> => {
  const { lease, logger, signal } = options;
  const renewEveryMs = options.timeoutMs / 3;
  let failures = 0;
  const backoff = (): Promise<void> => abortableSleep(backoffDelay(SessionBackoff, ++failures), signal);

  const holdLease = async (session: S, held: AbortSignal): Promise<void> => {
    let lastRenewed = Date.now();
    while (!held.aborted) {
      await abortableSleep(renewEveryMs, held);
      if (held.aborted) return;
      const renewed = await lease.tryAcquire().catch((error: unknown) => void logger.warn(`${options.name}: lease renewal failed: ${message(error)}`));
      if (renewed === true) lastRenewed = Date.now();
      if (renewed === false) return session.abort('lease taken by another host');
      if (Date.now() - lastRenewed > options.timeoutMs) return session.abort('lease could not be renewed in time');
    }
  };

  while (!signal.aborted) {
    const acquired = await lease.tryAcquire().catch((error: unknown) => {
      logger.warn(`${options.name}: lease check failed: ${message(error)}`);
      return false;
    });
    if (!acquired) {
      options.onFirstAttempt?.();
      await abortableSleep(renewEveryMs, signal);
      continue;
    }
    let session: S;
    try {
      session = await options.open();
    } catch (error) {
      logger.error(`${options.name}: could not start: ${message(error)}`);
      options.onFirstAttempt?.();
      await backoff();
      continue;
    }
    logger.info(`${options.name}: active`);
    options.onSession(session);
    options.onFirstAttempt?.();
    const held = new AbortController();
    const stop = (): void => session.abort('stopped');
    signal.addEventListener('abort', stop, { once: true });
    // Stopped while the session was opening: the abort event has already fired.
    if (signal.aborted) stop();
    const renewing = holdLease(session, held.signal);
    const reason = await session.run();
    held.abort();
    signal.removeEventListener('abort', stop);
    await renewing;
    await session.close();
    options.onSession(undefined);
    if (signal.aborted) return;
    logger.warn(`${options.name}: session ended: ${reason}; starting a new one from stored checkpoints`);
    await backoff();
  }
};
