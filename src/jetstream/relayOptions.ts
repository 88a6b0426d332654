import { ConfigurationError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { asLogger, stderrLogger, type AnyLogger } from '../logging/pinoLogger.ts';
import type { ProjectorEvent } from '../projector/partitionedProjector.ts';
import { DefaultIdlePollMs, DefaultLeaseTimeoutMs, DefaultReadBatchSize, defaultHostId } from '../options/defaults.ts';
import { optionChecks } from '../options/optionChecks.ts';
import { checkApp } from './streamNames.ts';
import { natsCredentialKeys, resolveNatsCredentials, type NatsCredentials, type ResolvedNatsCredentials } from './natsCredentials.ts';

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
  /** The servers, and the relay's credentials when the server asks for them (see `distributary nats-config`). */
  nats: { servers: string | string[] } & NatsCredentials;
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
  /** A pino logger (the app's own) or any with info/warn/error(message, details). @default JSON lines (pino) to stderr, warnings and errors only */
  logger?: AnyLogger;
  /** Serves Prometheus metrics (`GET /metrics`): published events, position, lag, streams. */
  metrics?: { port: number; host?: string };
};

export type ResolvedRelayOptions = Required<Omit<RelayOptions, 'stream' | 'lease' | 'nats' | 'metrics' | 'logger'>> & {
  logger: Logger;
  metrics?: { port: number; host: string };
  servers: string[];
  credentials: ResolvedNatsCredentials;
  limits: (tenant: string) => Required<TenantStreamLimits>;
  leaseTimeoutSeconds: number;
};

const DefaultLimits: Required<TenantStreamLimits> = { maxAgeMs: 0, maxMessages: -1, maxBytes: -1, replicas: 1, storage: 'file', duplicateWindowMs: 120_000 };

const byTenantMetadata = (event: ProjectorEvent): unknown => (event.metadata as { tenant?: unknown }).tenant;

const check = optionChecks('relay');
const limitKeys = ['maxAgeMs', 'maxMessages', 'maxBytes', 'replicas', 'storage', 'duplicateWindowMs'] as const;

/** Stream limits as given (for every tenant, or one tenant's overrides), checked. */
const checkLimits = <L extends TenantStreamLimits>(path: string, limits: L): L => {
  check.known(path, limits, path === 'stream' ? [...limitKeys, 'overrides'] : limitKeys);
  const { maxAgeMs, maxMessages, maxBytes, replicas, storage, duplicateWindowMs } = limits;
  if (maxAgeMs !== undefined) check.nonNegative(`${path}.maxAgeMs`, maxAgeMs, 0);
  for (const [name, value] of [['maxMessages', maxMessages], ['maxBytes', maxBytes]] as const)
    if (value !== undefined && !(Number.isInteger(value) && (value === -1 || value > 0)))
      throw new ConfigurationError(`relay: options.${path}.${name} must be -1 (unlimited) or a positive integer, got ${String(value)}`);
  if (replicas !== undefined) check.positiveInteger(`${path}.replicas`, replicas, 1);
  if (storage !== undefined && storage !== 'file' && storage !== 'memory')
    throw new ConfigurationError(`relay: options.${path}.storage must be 'file' or 'memory', got ${String(storage)}`);
  if (duplicateWindowMs !== undefined) check.positive(`${path}.duplicateWindowMs`, duplicateWindowMs, 1);
  return limits;
};

export const resolveRelayOptions = (options: RelayOptions): ResolvedRelayOptions => {
  check.known('', options, ['connectionString', 'nats', 'app', 'partitionBy', 'stream', 'batchSize', 'hostId', 'lease', 'idlePollMs', 'ackTimeoutMs', 'logger', 'metrics']);
  check.known('nats', options.nats, ['servers', ...natsCredentialKeys]);
  check.known('metrics', options.metrics, ['port', 'host']);
  check.known('lease', options.lease, ['timeoutMs']);
  if (typeof options.connectionString !== 'string' || options.connectionString === '')
    throw new ConfigurationError('relay: options.connectionString must be a PostgreSQL connection string');
  const servers = options.nats?.servers;
  if (servers === undefined || (Array.isArray(servers) && servers.length === 0)) throw new ConfigurationError('relay: options.nats.servers must name a NATS server');
  if (options.partitionBy !== undefined && typeof options.partitionBy !== 'function')
    throw new ConfigurationError(`relay: options.partitionBy must be a function, got ${typeof options.partitionBy}`);
  const { overrides, ...limits } = checkLimits('stream', options.stream ?? {});
  if (overrides !== undefined && typeof overrides !== 'function') throw new ConfigurationError(`relay: options.stream.overrides must be a function, got ${typeof overrides}`);
  const base = { ...DefaultLimits, ...limits };
  return {
    connectionString: options.connectionString,
    servers: Array.isArray(servers) ? servers : [servers],
    credentials: resolveNatsCredentials('relay', 'nats', options.nats),
    app: checkApp(options.app),
    partitionBy: options.partitionBy ?? byTenantMetadata,
    limits: (tenant) => ({ ...base, ...checkLimits(`stream.overrides('${tenant}')`, overrides?.(tenant) ?? {}) }),
    batchSize: check.positiveInteger('batchSize', options.batchSize, DefaultReadBatchSize),
    hostId: options.hostId ?? defaultHostId(),
    leaseTimeoutSeconds: Math.ceil(check.positive('lease.timeoutMs', options.lease?.timeoutMs, DefaultLeaseTimeoutMs) / 1000),
    idlePollMs: check.positive('idlePollMs', options.idlePollMs, DefaultIdlePollMs),
    ackTimeoutMs: check.positive('ackTimeoutMs', options.ackTimeoutMs, 10_000),
    logger: asLogger(options.logger ?? stderrLogger()),
    ...(options.metrics === undefined ? {} : { metrics: { port: check.port('metrics.port', options.metrics.port), host: options.metrics.host ?? '127.0.0.1' } }),
  };
};
