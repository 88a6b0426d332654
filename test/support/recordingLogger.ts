import type { Logger } from '../../src/index.ts';

/** A logger that keeps what it is told, for tests that a run is quiet or says what it should. */
export const recordingLogger = (): Logger & { lines: { level: string; message: string }[] } => {
  const lines: { level: string; message: string }[] = [];
  return {
    lines,
    info: () => undefined,
    warn: (message) => void lines.push({ level: 'warn', message }),
    error: (message) => void lines.push({ level: 'error', message }),
  };
};
