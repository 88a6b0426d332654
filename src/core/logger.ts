
export type Logger = {
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
};

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
