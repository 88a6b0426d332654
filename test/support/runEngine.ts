import { projectionEngine, silentLogger, type ProjectionEngineOptions } from '../../src/index.ts';

/** Starts an engine on `projectors`, waits until it has caught up with the store, and stops it. */
export const runUntilCaughtUp = async (connectionString: string, projectors: URL, options: Omit<ProjectionEngineOptions, 'connectionString' | 'projectors'> = {}): Promise<void> => {
  const engine = projectionEngine({ connectionString, projectors, logger: silentLogger, ...options });
  await engine.start();
  try {
    await engine.whenCaughtUp({ timeoutMs: 120_000 });
  } finally {
    await engine.stop();
  }
};
