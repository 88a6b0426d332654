import type pg from 'pg';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../core/logger.ts';
import { storeRelayStatus } from '../postgres/storeRelayStatus.ts';
import { readRelayLag } from '../postgres/readRelayLag.ts';
import { StatusEveryMs } from '../status/statusWriter.ts';
import { metricsServer, type MetricsServer } from './metricsServer.ts';

export type RelayProgress = { role: 'stopped' | 'standby' | 'active'; position: bigint | null; published: number; publishFailures: number; streams: number };

export type RelayTelemetry = {
  readonly registry: Registry;
  start(db: pg.Pool): Promise<void>;
  metricsUrl(): string | undefined;
  stop(): Promise<void>;
};

/**
 * The relay's status row and heartbeat (written while it is the active relay of its app) and its
 * Prometheus metrics: events published, position, lag behind the store in events and seconds, streams.
 */
export const relayTelemetry = (context: {
  app: string;
  hostId: string;
  aliveForMs: number;
  metrics?: { port: number; host: string };
  progress: () => RelayProgress;
  logger: Logger;
}): RelayTelemetry => {
  const registry = new Registry();
  const registers = [registry];
  if (context.metrics !== undefined) collectDefaultMetrics({ register: registry });
  const startedAt = new Date();
  let db: pg.Pool | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let writing: Promise<void> = Promise.resolve();
  let failing = false;
  let server: MetricsServer | undefined;
  let wasActive = false;

  new Counter({
    name: 'distributary_relay_events_published_total',
    help: 'Events the relay published to tenant streams (duplicates JetStream dropped not counted).',
    registers,
    collect() {
      this.reset();
      this.inc(context.progress().published);
    },
  });
  new Counter({
    name: 'distributary_relay_publish_errors_total',
    help: 'Batch publishes that failed and were tried again.',
    registers,
    collect() {
      this.reset();
      this.inc(context.progress().publishFailures);
    },
  });
  new Gauge({
    name: 'distributary_relay_position',
    help: 'Global position of the last event published.',
    registers,
    collect() {
      this.set(Number(context.progress().position ?? 0n));
    },
  });
  new Gauge({
    name: 'distributary_relay_streams',
    help: 'Tenant streams the relay has published to since it started.',
    registers,
    collect() {
      this.set(context.progress().streams);
    },
  });
  new Gauge({
    name: 'distributary_relay_active',
    help: '1 while this process is the active relay of its app.',
    registers,
    collect() {
      this.set(context.progress().role === 'active' ? 1 : 0);
    },
  });
  // One query per scrape, shared by both lag gauges.
  let measured: { at: number; lag: Promise<{ events: number; seconds: number }> } | undefined;
  const lag = (): Promise<{ events: number; seconds: number }> => {
    if (db === undefined) return Promise.resolve({ events: 0, seconds: 0 });
    if (measured === undefined || Date.now() - measured.at > 100) measured = { at: Date.now(), lag: readRelayLag(db, context.progress().position ?? 0n) };
    return measured.lag;
  };
  new Gauge({
    name: 'distributary_relay_lag_events',
    help: 'Events in the store not published yet.',
    registers,
    async collect() {
      this.set((await lag()).events);
    },
  });
  new Gauge({
    name: 'distributary_relay_lag_seconds',
    help: 'Age of the oldest event in the store not published yet; 0 when caught up.',
    registers,
    async collect() {
      this.set((await lag()).seconds);
    },
  });

  const write = async (stopped: boolean): Promise<void> => {
    const progress = context.progress();
    if (progress.role === 'active') wasActive = true;
    // Only the active relay of the app writes its row (and marks it stopped when it stops); a standby has nothing to say about it.
    if (db === undefined || !wasActive || (!stopped && progress.role !== 'active')) return;
    try {
      await storeRelayStatus(db, { app: context.app, hostId: context.hostId, position: progress.position, streams: progress.streams, published: progress.published, aliveForMs: context.aliveForMs, startedAt, stopped });
      failing = false;
    } catch (error) {
      if (!failing) context.logger.warn(`relay status: could not write it: ${(error as Error).message}`);
      failing = true;
    }
  };

  return {
    registry,
    async start(pool) {
      db = pool;
      timer = setInterval(() => void (writing = writing.then(() => write(false))), StatusEveryMs);
      timer.unref();
      if (context.metrics !== undefined) server = await metricsServer(registry, context.metrics, context.progress);
    },
    metricsUrl: () => server?.url,
    async stop() {
      clearInterval(timer);
      await writing;
      await write(true);
      await server?.close();
      server = undefined;
      db = undefined;
    },
  };
};
