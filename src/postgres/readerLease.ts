import { callReleaseProcessorLock, callTryAcquireProcessorLock } from '@event-driven-io/emmett-postgresql';
import type { Dumbo } from '@event-driven-io/dumbo';
import { hash64 } from '../core/jumpHash.ts';

export type ReaderLease = {
  /** Takes the lease, or renews it when this host holds it. False while another live host holds it. */
  tryAcquire(): Promise<boolean>;
  release(): Promise<void>;
};

/**
 * One active reader per group of hosts, through Emmett's processor lock on `emt_processors`:
 * the row names its owner and expires when the owner stops renewing it for `timeoutSeconds`.
 */
export const readerLease = (pool: Dumbo, options: { group: string; hostId: string; timeoutSeconds: number }): ReaderLease => {
  const processorId = `distributary:reader:${options.group}`;
  const lockKey = BigInt.asIntN(64, hash64(processorId)).toString();
  return {
    async tryAcquire() {
      const { rows } = await pool.execute.query<{ acquired: boolean }>(
        callTryAcquireProcessorLock({
          lockKey,
          processorId,
          version: 1,
          partition: 'emt:default',
          processorInstanceId: options.hostId,
          projectionName: null,
          projectionType: null,
          projectionKind: null,
          lockTimeoutSeconds: options.timeoutSeconds,
        }),
      );
      return rows[0]?.acquired === true;
    },
    async release() {
      await pool.execute.command(
        callReleaseProcessorLock({ lockKey, processorId, partition: 'emt:default', version: 1, processorInstanceId: options.hostId, projectionName: null }),
      );
    },
  };
};
