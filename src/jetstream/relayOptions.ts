import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { ConfigurationError } from '../core/errors.ts';
import { stderrLogger, type Logger } from '../core/logger.ts';
import type { ProjectorEvent } from '../projector/partitionedProjector.ts';
import { checkApp } from './streamNames.ts';

export type TenantStreamLimits = {
  /** Oldest message a tenant stream keeps; 0 keeps all. @default 0 */
  maxAgeMs?: number;
  /** @default -1 (unlimited) */
  maxMessages?: number;
  /** @default -1 (unlimited) */
  maxBytes?: number;
  /** @default 1 */
  replicas?: number;
  /** @default 'file' */
  storage?: 'file' | 'memory';
  /** Window in which a re-published `Nats-Msg-Id` is dropped as a duplicate. @default 120000 */
  duplicateWindowMs?: number;
};

export type RelayOptions = {
  connectionString: string;
  nats: { servers: string | string[] };
  /** First subject token and stream-name prefix: subjects `{app}.tenants.{tenant}.{type}`. */
  app: string;
  /** @default event => event.metadata.tenant */
  partitionBy?: (event: ProjectorEvent) => unknown;
  /** Limits of every tenant stream, and per-tenant overrides. */
  stream?: TenantStreamLimits & { overrides?: (tenant: string) => TenantStreamLimits | undefined };
  /** Events read and published per batch. @default 1000 */
  batchSize?: number;
  hostId?: string;
  /** @default { timeoutMs: 10000 } */
  lease?: { timeoutMs?: number };
  /** @default 500 */
  idlePollMs?: number;
  /** A batch whose messages JetStream has not all acked this long is published again. @default 10000 */
  ackTimeoutMs?: number;
  logger?: Logger;
};

export type ResolvedRelayOptions = Required<Omit<RelayOptions, 'stream' | 'lease' | 'nats'>> & {
  servers: string[];
  limits: (tenant: string) => Required<TenantStreamLimits>;
  leaseTimeoutSeconds: number;
};

const DefaultLimits: Required<TenantStreamLimits> = { maxAgeMs: 0, maxMessages: -1, maxBytes: -1, replicas: 1, storage: 'file', duplicateWindowMs: 120_000 };

const byTenantMetadata = (event: ProjectorEvent): unknown => (event.metadata as { tenant?: unknown }).tenant;

export const resolveRelayOptions = (options: RelayOptions): ResolvedRelayOptions => {
  if (typeof options.connectionString !== 'string' || options.connectionString === '')
    throw new ConfigurationError('relay: options.connectionString must be a PostgreSQL connection string');
  const servers = options.nats?.servers;
  if (servers === undefined || (Array.isArray(servers) && servers.length === 0)) throw new ConfigurationError('relay: options.nats.servers must name a NATS server');
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigurationError(`relay: options.batchSize must be a positive integer, got ${String(options.batchSize)}`);
  const { overrides, ...limits } = options.stream ?? {};
  const base = { ...DefaultLimits, ...limits };
  return {
    connectionString: options.connectionString,
    servers: Array.isArray(servers) ? servers : [servers],
    app: checkApp(options.app),
    partitionBy: options.partitionBy ?? byTenantMetadata,
    limits: (tenant) => ({ ...base, ...overrides?.(tenant) }),
    batchSize,
    hostId: options.hostId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    leaseTimeoutSeconds: Math.ceil((options.lease?.timeoutMs ?? 10_000) / 1000),
    idlePollMs: options.idlePollMs ?? 500,
    ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
    logger: options.logger ?? stderrLogger(),
  };
};
