import { GenericContainer, Wait, getContainerRuntimeClient } from 'testcontainers';
import type { LocalServer } from './localPostgres.ts';

/** True when a Docker (or compatible) engine answers within a few seconds. */
export const dockerAnswers = async (): Promise<boolean> => {
  try {
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_resolve, reject) => setTimeout(() => reject(new Error('timeout')), 5_000)),
    ]);
    return true;
  } catch {
    return false;
  }
};

export const startPostgresContainer = async (): Promise<LocalServer> => {
  const container = await new GenericContainer('postgres:17-alpine')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withCommand(['postgres', '-c', 'fsync=off', '-c', 'max_connections=500'])
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  return {
    url: `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`,
    stop: async () => void (await container.stop()),
  };
};

export const startNatsContainer = async (): Promise<LocalServer> => {
  const container = await new GenericContainer('nats:2-alpine').withCommand(['-js']).withExposedPorts(4222).start();
  return { url: `nats://${container.getHost()}:${container.getMappedPort(4222)}`, stop: async () => void (await container.stop()) };
};
