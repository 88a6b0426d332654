/** Base class of every error distributary throws or records. */
export class DistributaryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An option passed to a factory is missing or out of range. */
export class ConfigurationError extends DistributaryError {}

/** `partitionBy` threw or returned something that is not a usable key. */
export class PartitionKeyError extends DistributaryError {}

/** Another owner committed for a partition this one believed it owned, or its lease passed on: the commit was fenced. */
export class OwnershipLostError extends DistributaryError {}

/** A batch ran longer than `onError.batchTimeoutMs`; its transaction was terminated. */
export class BatchTimeoutError extends DistributaryError {}

/** A state machine was asked for a transition its table does not allow: a bug, never an outage. */
export class IllegalTransitionError extends DistributaryError {}

/** A wait such as `whenCaughtUp` did not finish in time. */
export class WaitTimeoutError extends DistributaryError {}

/** A worker thread or projector module could not be loaded or crashed. */
export class WorkerError extends DistributaryError {}

/** Plain, cloneable description of an error: what crosses threads and lands in dead letters. */
export type ErrorInfo = { name: string; message: string; stack?: string | undefined };

export const toErrorInfo = (error: unknown): ErrorInfo =>
  error instanceof Error
    ? { name: error.name, message: error.message, stack: error.stack }
    : { name: 'Error', message: String(error) };
