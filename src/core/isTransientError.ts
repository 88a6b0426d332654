/*
 * The one place that sorts errors: an outage (connection lost, server shutting down or starting up,
 * a NATS request that timed out or found nobody to answer) is transient and waited out; anything else
 * is named, and where it came from an event, counts as an attempt.
 */

export type ErrorKind =
  /** The infrastructure is away or busy: retry without limit. */
  | 'transient'
  /** The server refused this identity: a configuration problem, retrying does not help. */
  | 'permission'
  /** A NATS stream or consumer that is not there (deleted, or not yet created). */
  | 'not-found'
  | 'other';

const transientCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
// SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, crash, cannot connect now), 53300 too many connections.
const transientStates = /^(08|57P0[1-4]|53300)/;
const transientMessages = /Connection terminated|connection is closed|Client has encountered a connection error|timeout exceeded when trying to connect|terminating connection due to administrator command|the database system is (starting up|shutting down|in recovery mode)/i;
// nats.js error classes by name (the core imports no client): the connection is closed, draining or
// failing, a request timed out or had no responders, JetStream is not (yet) available.
const transientNatsNames = new Set(['ClosedConnectionError', 'DrainingConnectionError', 'ConnectionError', 'TimeoutError', 'NoResponders', 'RequestError', 'JetStreamNotEnabled']);
const permissionNatsNames = new Set(['AuthorizationError', 'PermissionViolationError', 'UserAuthenticationExpiredError']);
const notFoundNatsNames = new Set(['ConsumerNotFoundError', 'StreamNotFoundError']);

/**
 * Connection failures and PostgreSQL shutting down or starting up: what the partition runner waits out
 * and never counts against an event. Only codes and messages of the connection and the server: a
 * projection's own error named like one of NATS's (a `TimeoutError` of its own) still counts.
 */
export const isTransientError = (error: unknown): boolean => {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message, cause } = error as { code?: unknown; message?: unknown; cause?: unknown };
  if (typeof code === 'string' && (transientCodes.has(code) || transientStates.test(code))) return true;
  if (typeof message === 'string' && transientMessages.test(message)) return true;
  return cause !== undefined && cause !== error && isTransientError(cause);
};

/** Sorts what a call to NATS or JetStream failed with (nats.js's error classes, by name), and what PostgreSQL did. */
export const classifyError = (error: unknown): ErrorKind => {
  if (typeof error !== 'object' || error === null) return 'other';
  const { name, cause } = error as { name?: unknown; cause?: unknown };
  if (typeof name === 'string') {
    // A request fails with the server's reason as its cause (a permission violation is not an outage).
    if (name === 'RequestError' && cause !== undefined && cause !== error) {
      const kind = classifyError(cause);
      return kind === 'other' ? 'transient' : kind;
    }
    if (transientNatsNames.has(name)) return 'transient';
    if (permissionNatsNames.has(name)) return 'permission';
    if (notFoundNatsNames.has(name)) return 'not-found';
    // JetStream answers 503 while its meta leader is being elected or the server is overloaded.
    if (name === 'JetStreamApiError' && (error as { code?: unknown }).code === 503) return 'transient';
  }
  if (isTransientError(error)) return 'transient';
  return cause !== undefined && cause !== error ? classifyError(cause) : 'other';
};

/**
 * Two transactions that both create the same table (`CREATE ... IF NOT EXISTS`, as Pongo does on a
 * collection's first write) race in PostgreSQL's catalog: the loser fails although the table then
 * exists. Not an error of the events: the same transaction succeeds when run again.
 */
export const isCreateRace = (error: unknown): boolean => {
  if (typeof error !== 'object' || error === null) return false;
  const { code, constraint, cause } = error as { code?: unknown; constraint?: unknown; cause?: unknown };
  if (code === '42P07' || code === '42710') return true;
  if (code === '23505' && typeof constraint === 'string' && /^pg_(type_typname_nsp|class_relname_nsp|namespace_nspname)_index$/.test(constraint)) return true;
  return cause !== undefined && cause !== error && isCreateRace(cause);
};

/** An error's message with what kind of failure it is, for the log line of a retry. */
export const describeFailure = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error);
  switch (classifyError(error)) {
    case 'permission':
      return `refused by the server (check this identity's permissions): ${message}`;
    case 'not-found':
      return `stream or consumer not found: ${message}`;
    case 'transient':
      return `unavailable for now: ${message}`;
    default:
      return message;
  }
};
