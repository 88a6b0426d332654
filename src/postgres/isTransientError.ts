/**
 * The one place that tells an outage from a bad event: connection failures and PostgreSQL shutting
 * down or starting up are transient and retried without limit; anything else counts as an attempt.
 */
const transientCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
// SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, crash, cannot connect now), 53300 too many connections.
const transientStates = /^(08|57P0[1-4]|53300)/;
const transientMessages = /Connection terminated|connection is closed|Client has encountered a connection error|timeout exceeded when trying to connect|terminating connection due to administrator command|the database system is (starting up|shutting down|in recovery mode)/i;

export const isTransientError = (error: unknown): boolean => {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message, cause } = error as { code?: unknown; message?: unknown; cause?: unknown };
  if (typeof code === 'string' && (transientCodes.has(code) || transientStates.test(code))) return true;
  if (typeof message === 'string' && transientMessages.test(message)) return true;
  return cause !== undefined && cause !== error && isTransientError(cause);
};
