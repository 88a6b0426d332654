import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { natsAuthOptions } from './natsAuth.ts';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { dumbo as createDumbo } from '@event-driven-io/dumbo';
import pg from 'pg';
import { ConfigurationError } from '../core/errors.ts';
import { comparePositions } from '../core/position.ts';
import { waitFor } from '../core/waitFor.ts';
import { wakeable } from '../core/wakeable.ts';
import { runLeaseLoop } from '../core/leaseLoop.ts';
import { migrate } from '../postgres/migrate.ts';
import { readerLease, type ReaderLease } from '../postgres/readerLease.ts';
import { readLastPosition } from '../postgres/readLastPosition.ts';
import { wakeUps as listenForAppends, type WakeUps } from '../postgres/wakeUps.ts';
import { openRelaySession, type RelaySession } from './relaySession.ts';
import type { ResolvedRelayOptions } from './relayOptions.ts';
import type { Relay, RelayStatus } from './relay.ts';
import { tenantRegistryBucket } from './streamNames.ts';
import { tenantStreams } from './tenantStreams.ts';
import { relayTelemetry } from '../telemetry/relayTelemetry.ts';

/** The relay itself, loaded by `relay()` when it starts (an application that only imports the package loads no NATS client). */
export const relayRuntime = (options: ResolvedRelayOptions): Relay => {
  const { logger } = options;
  let role: RelayStatus['role'] = 'stopped';
  let nc: NatsConnection | undefined;
  let db: pg.Pool | undefined;
  let listening: WakeUps | undefined;
  let lease: ReaderLease | undefined;
  let leaseDumbo: ReturnType<typeof createDumbo> | undefined;
  let session: RelaySession | undefined;
  let stopping: AbortController | undefined;
  let loop: Promise<void> | undefined;
  let published = 0;
  let failures = 0;
  let streamCount = (): number => 0;
  const progressed = wakeable();
  const telemetry = relayTelemetry({
    app: options.app,
    hostId: options.hostId,
    aliveForMs: options.leaseTimeoutSeconds * 1000,
    metrics: options.metrics,
    progress: () => ({ role, position: session?.position().global ?? null, published: published + (session?.published() ?? 0), publishFailures: failures + (session?.publishFailures() ?? 0), streams: streamCount() }),
    logger,
  });


  return {
    async start() {
      if (role !== 'stopped') throw new ConfigurationError('relay: start() called twice');
      await migrate(options.connectionString);
      nc = await connect({ servers: options.servers, ...natsAuthOptions(options.credentials), maxReconnectAttempts: -1, name: `distributary-relay-${options.hostId}` });
      const jsm = await jetstreamManager(nc);
      const registry = await new Kvm(nc).create(tenantRegistryBucket(options.app), { history: 1 });
      const streams = tenantStreams(jsm, registry, options);
      streamCount = streams.count;
      const connection = nc;
      const pool = new pg.Pool({ connectionString: options.connectionString, max: 3 });
      pool.on('error', (error) => logger.warn(`idle PostgreSQL connection failed: ${error.message}`));
      db = pool;
      await telemetry.start(pool);
      leaseDumbo = createDumbo({ connectionString: options.connectionString, pool });
      const appends = listenForAppends(options.connectionString, logger);
      listening = appends;
      lease = readerLease(leaseDumbo, { group: `relay:${options.app}`, hostId: options.hostId, timeoutSeconds: options.leaseTimeoutSeconds });
      role = 'standby';
      stopping = new AbortController();
      loop = runLeaseLoop({
        name: `${options.hostId}, relay of '${options.app}'`,
        lease,
        timeoutMs: options.leaseTimeoutSeconds * 1000,
        logger,
        signal: stopping.signal,
        open: () => openRelaySession({ options, db: pool, nc: connection, streams, wakeUps: appends, onProgress: () => progressed.wake() }),
        onSession: (current) => {
          if (session !== undefined) {
            published += session.published();
            failures += session.publishFailures();
          }
          session = current;
          role = current === undefined ? 'standby' : 'active';
          progressed.wake();
        },
      });
    },

    async whenActive({ timeoutMs = 30_000 } = {}) {
      await waitFor(progressed, () => role === 'active', timeoutMs, () => `relay ${options.hostId} did not become active within ${timeoutMs} ms`);
    },

    async whenCaughtUp({ timeoutMs = 30_000 } = {}) {
      if (db === undefined) throw new ConfigurationError('relay: whenCaughtUp() needs a started relay');
      const target = await readLastPosition(db);
      await waitFor(
        progressed,
        () => session !== undefined && comparePositions(session.position(), target) >= 0,
        timeoutMs,
        () => `relay not caught up to position ${target.global} within ${timeoutMs} ms (at ${String(session?.position().global ?? 'none')})`,
      );
    },

    status: () => ({
      hostId: options.hostId,
      app: options.app,
      role,
      position: session?.position().global ?? null,
      published: published + (session?.published() ?? 0),
    }),

    metricsUrl: () => telemetry.metricsUrl(),

    async stop() {
      if (role === 'stopped') return;
      stopping?.abort();
      await loop;
      await telemetry.stop();
      await lease?.release().catch((error: unknown) => logger.warn(`could not release relay lease: ${String(error)}`));
      await listening?.close();
      await nc?.drain().catch(() => undefined);
      await leaseDumbo?.close();
      await db?.end().catch(() => undefined);
      role = 'stopped';
      progressed.wake();
    },
  };
};
