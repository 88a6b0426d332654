/**
 * An abort controller that remembers the first reason it was aborted with: what ended a session,
 * a membership or a loop, for the log line that follows.
 */
export type ReasonedAbort = { readonly signal: AbortSignal; readonly abort: (reason: string) => void; readonly reason: () => string };

export const abortWithReason = (initial = 'stopped'): ReasonedAbort => {
  const controller = new AbortController();
  let why = initial;
  return {
    signal: controller.signal,
    abort(reason) {
      if (controller.signal.aborted) return;
      why = reason;
      controller.abort();
    },
    reason: () => why,
  };
};
