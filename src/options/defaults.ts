import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/*
 * Defaults that more than one options type shares, declared once.
 */

/** A lease holder silent this long loses it (reader, relay, partition leases). */
export const DefaultLeaseTimeoutMs = 10_000;

/** A delivered JetStream message not acked this long is delivered again; well above a batch's time-out. */
export const DefaultAckWaitMs = 60_000;

/** How often an idle reader looks at the store when no append notification arrives. */
export const DefaultIdlePollMs = 500;

/** Each worker thread's old-generation limit (MB): at 512 or less V8 grows a heap by less than 4x what survives. */
export const DefaultThreadHeapMb = 512;

/** Events read from the store per query. */
export const DefaultReadBatchSize = 1000;

/** Names a process in leases, checkpoints and status when the caller gives no name. */
export const defaultHostId = (): string => `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
