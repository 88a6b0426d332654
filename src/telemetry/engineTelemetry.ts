import type pg from 'pg';
import type { Logger } from '../core/logger.ts';
import type { PartitionRouter, RouterObserver } from '../router/partitionRouter.ts';
import type { EngineStatus, ProjectorStatus } from '../router/status.ts';
import { statusWriter, type StatusWriter } from '../status/statusWriter.ts';
import { engineMetrics, type EngineMetrics } from './engineMetrics.ts';
import { metricsServer, type MetricsServer } from './metricsServer.ts';
import { recordBatchSpan } from '../tracing/batchSpans.ts';
import { tracingRegistered } from '../tracing/tracer.ts';

export type EngineTelemetry = {
  readonly metrics: EngineMetrics;
  /** What routers report to. */
  readonly observer: RouterObserver;
  /** Takes a new router's reports in. */
  observe(router: PartitionRouter): void;
  /** Starts the status writer and the servers configured. */
  start(db: pg.Pool): Promise<void>;
  /** Writes the status once more, while the source still runs. */
  flush(): Promise<void>;
  metricsUrl(): string | undefined;
  dashboardUrl(): string | undefined;
  /** Marks the host stopped in the status, closes the servers. */
  stop(): Promise<void>;
};

type Closable = { url: string; close(): Promise<void> };

/** Loads the dashboard only when configured. */
const loadDashboard = async () => (await import('../dashboard/dashboardServer.ts')).dashboardServer;

/**
 * Everything an engine tells the outside about itself: status rows and heartbeats in the database
 * (what the CLI and dashboard read), Prometheus metrics, batch spans, and the servers that show them.
 */
export const engineTelemetry = (context: {
  hostId: string;
  group: string;
  transport: 'in-process' | 'jetstream';
  threads: number;
  aliveForMs: number;
  connectionString: string;
  metrics?: { port: number; host: string; topPartitions: number };
  dashboard?: { port: number; host: string; token?: string };
  role: () => string;
  status: () => EngineStatus;
  /** The router the source now delivers to, if it has one (an active reader, a member). */
  router: () => PartitionRouter | undefined;
  logger: Logger;
}): EngineTelemetry => {
  const projectors = (): readonly ProjectorStatus[] => context.status().projectors;
  const metrics = engineMetrics({ status: projectors, topPartitions: context.metrics?.topPartitions, defaultMetrics: context.metrics !== undefined });
  const startedAt = new Date();
  let writer: StatusWriter | undefined;
  let metricsEndpoint: MetricsServer | undefined;
  let dashboard: Closable | undefined;

  // Applied per partition since this engine started, across the routers of its sessions.
  const applied = new Map<string, number>();
  let routers = 0;
  const observer: RouterObserver = {
    ownership: (processorId, _partition, change) => metrics.ownership(processorId, change),
    wantsBatches: tracingRegistered,
    batch: recordBatchSpan,
  };

  return {
    metrics,
    observer,
    observe(router) {
      routers++;
      router.onReport((report) => {
        metrics.report(report);
        if (report.applied > 0) {
          const key = `${report.processorId}\u0000${report.partition}`;
          applied.set(key, (applied.get(key) ?? 0) + report.applied);
        }
      });
    },
    async start(db) {
      writer = statusWriter({
        db,
        host: () => ({ hostId: context.hostId, group: context.group, role: context.role(), transport: context.transport, threads: context.threads, aliveForMs: context.aliveForMs, startedAt }),
        projectors: (changedAfter) => context.router()?.status(undefined, { changedAfter }) ?? [],
        changes: () => ({ session: `${routers}:${context.role()}`, version: context.router()?.version() ?? 0 }),
        partitionCount: () => context.router()?.partitionCount() ?? 0,
        applied: (processorId, partition) => applied.get(`${processorId}\u0000${partition}`) ?? 0,
        logger: context.logger,
      });
      writer.start();
      if (context.metrics !== undefined) metricsEndpoint = await metricsServer(metrics.registry, context.metrics, context.status);
      if (context.dashboard !== undefined) dashboard = await (await loadDashboard())({ connectionString: context.connectionString, ...context.dashboard, logger: context.logger });
    },
    flush: async () => writer?.flush(),
    metricsUrl: () => metricsEndpoint?.url,
    dashboardUrl: () => dashboard?.url,
    async stop() {
      await writer?.stop();
      await metricsEndpoint?.close();
      await dashboard?.close();
      writer = undefined;
      metricsEndpoint = undefined;
      dashboard = undefined;
    },
  };
};
