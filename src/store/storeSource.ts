import { waitFor } from '../core/waitFor.ts';
import { wakeable } from '../core/wakeable.ts';
import { WaitTimeoutError } from '../core/errors.ts';
import type { Position } from '../core/position.ts';
import { readerLease } from '../postgres/readerLease.ts';
import { wakeUps as listenForAppends } from '../postgres/wakeUps.ts';
import type { StoppedPartition } from '../router/partitionRouter.ts';
import type { CaughtUp, Source, SourceContext } from '../router/source.ts';
import type { EngineRole } from '../router/status.ts';
import { runLeaseLoop } from '../core/leaseLoop.ts';
import { openReaderSession, type ReaderSession, type StoreSourceOptions } from './readerSession.ts';
import { storedCatchUp } from './storedCatchUp.ts';

/** How often a standby looks at what is stored while waiting for the group to catch up. */
const StandbyCheckMs = 100;

/*
 * The embedded default: one host of a group holds the reader lease and reads the event store in
 * delivery order (reader sessions); the others stand by and take over when it stops renewing.
 *   start ──first lease attempt──> active (a session runs) | standby
 *   active <──lease won / lost──> standby ──stop──> stopped
 */
export const storeSource = (context: SourceContext<StoreSourceOptions>): Source => {
  const { options, db } = context;
  const progressed = wakeable();
  const onProgress = (): void => {
    progressed.wake();
    context.onProgress();
  };
  const lease = readerLease(context.dumbo, { group: options.group, hostId: options.hostId, timeoutSeconds: options.leaseTimeoutSeconds });
  const wakeUps = listenForAppends(options.connectionString, options.logger);
  const stopping = new AbortController();
  let role: EngineRole = 'stopped';
  let session: ReaderSession | undefined;
  let loop: Promise<void> | undefined;

  /** A standby: what every projector has stored, whoever committed it. */
  const storedStopped = async (target: Position, processorIds: readonly string[]): Promise<StoppedPartition[] | undefined> => {
    const all: StoppedPartition[] = [];
    for (const projector of context.projectors) {
      if (!processorIds.includes(projector.processorId)) continue;
      const stopped = await storedCatchUp(db, options.group, projector, target);
      if (stopped === undefined) return undefined;
      all.push(...stopped);
    }
    return all;
  };

  return {
    async start() {
      role = 'standby';
      let settle = (): void => undefined;
      const settled = new Promise<void>((resolve) => (settle = resolve));
      loop = runLeaseLoop({
        name: `${options.hostId}, reader of group '${options.group}'`,
        lease,
        timeoutMs: options.leaseTimeoutSeconds * 1000,
        logger: options.logger,
        signal: stopping.signal,
        open: () => openReaderSession({ options, projectors: context.projectors, newRouter: context.newRouter, db, dumbo: context.dumbo, wakeUps, onProgress }),
        onSession: (current) => {
          session = current;
          role = current === undefined ? 'standby' : 'active';
          onProgress();
        },
        onFirstAttempt: settle,
      });
      void loop.then(settle, settle);
      await settled;
    },
    role: () => role,
    async whenCaughtUp(target, timeoutMs, only) {
      const processorIds = only ?? context.projectors.map((projector) => projector.processorId);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const current = session;
        if (current !== undefined) {
          try {
            await waitFor(
              progressed,
              () => session !== current || current.isCaughtUpTo(target, processorIds),
              Math.max(0, deadline - Date.now()),
              () => {
                const behind = current.status().flatMap((p) => p.partitions.filter((s) => s.lag > 0).map((s) => `${p.processorId}/${s.partition} (${s.state}, lag ${s.lag})`));
                return `not caught up to position ${target.global} within ${timeoutMs} ms; role ${role}, reader at ${current.readerPosition().global}; behind: ${behind.slice(0, 10).join(', ') || 'none'}`;
              },
            );
          } catch (error) {
            if (session === current) throw error;
          }
          if (session === current) return { stopped: current.stopped().filter((s) => processorIds.includes(s.processorId)) };
          continue;
        }
        const stopped = await storedStopped(target, processorIds);
        if (stopped !== undefined) return { stopped } satisfies CaughtUp;
        if (Date.now() >= deadline)
          throw new WaitTimeoutError(`not caught up to position ${target.global} within ${timeoutMs} ms; role ${role}: the stored checkpoints of the group's active reader are behind`);
        await progressed.wait(Math.min(StandbyCheckMs, deadline - Date.now()));
      }
    },
    router: () => session?.router,
    status: () => ({ readerPosition: session?.readerPosition().global ?? null, projectors: session?.status() ?? [] }),
    async stop() {
      stopping.abort();
      await loop;
      await lease.release().catch((error: unknown) => options.logger.warn(`could not release reader lease: ${error instanceof Error ? error.message : String(error)}`));
      await wakeUps.close();
      role = 'stopped';
    },
  };
};
