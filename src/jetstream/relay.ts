import { ConfigurationError } from '../core/errors.ts';
import { resolveRelayOptions, type RelayOptions } from './relayOptions.ts';

export { tenantRegistryBucket } from './streamNames.ts';

export type RelayStatus = { hostId: string; app: string; role: 'stopped' | 'standby' | 'active'; position: bigint | null; published: number };

export type Relay = {
  start(): Promise<void>;
  /** Resolves when every event the store held when called is stored in its tenant stream. */
  whenCaughtUp(options?: { timeoutMs?: number }): Promise<void>;
  whenActive(options?: { timeoutMs?: number }): Promise<void>;
  status(): RelayStatus;
  /** Where the metrics are served, once started with `metrics`. */
  metricsUrl(): string | undefined;
  stop(): Promise<void>;
};

/**
 * Moves events from the Emmett store to one JetStream stream per tenant; one active relay per app,
 * others stand by. Options are checked here; the NATS client is loaded when the relay starts.
 */
export const relay = (userOptions: RelayOptions): Relay => {
  const options = resolveRelayOptions(userOptions);
  let running: Relay | undefined;
  const started = (method: string): Relay => {
    if (running === undefined) throw new ConfigurationError(`relay: ${method}() needs a started relay`);
    return running;
  };
  return {
    async start() {
      if (running !== undefined) throw new ConfigurationError('relay: start() called twice');
      const { relayRuntime } = await import('./relayRuntime.ts');
      running = relayRuntime(options);
      await running.start();
    },
    whenCaughtUp: (waiting) => started('whenCaughtUp').whenCaughtUp(waiting),
    whenActive: (waiting) => started('whenActive').whenActive(waiting),
    status: () => running?.status() ?? { hostId: options.hostId, app: options.app, role: 'stopped', position: null, published: 0 },
    metricsUrl: () => running?.metricsUrl(),
    async stop() {
      const stopping = running;
      running = undefined;
      await stopping?.stop();
    },
  };
};
