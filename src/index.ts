export { partitionedProjector, type PartitionedProjector, type PartitionedProjectorOptions, type Placement, type ProjectorEvent } from './projector/partitionedProjector.ts';
export { pongoBatchProjection, type PongoBatchProjectionOptions } from './projector/pongoBatchProjection.ts';
export { projectionEngine, type ProjectionEngine } from './engine/projectionEngine.ts';
export type { ProjectionEngineOptions } from './engine/options.ts';
export type { EngineStatus, ProjectorStatus, PartitionStatus, EngineRole } from './router/status.ts';
export type { PartitionState } from './core/partitionScheduler.ts';
export { migrate } from './postgres/migrate.ts';
export { silentLogger, type Logger } from './core/logger.ts';
export { stderrLogger, type AnyLogger } from './logging/pinoLogger.ts';
export {
  DistributaryError,
  ConfigurationError,
  PartitionKeyError,
  OwnershipLostError,
  WaitTimeoutError,
  BatchTimeoutError,
  WorkerError,
} from './core/errors.ts';
export { deadLetters, type DeadLetters } from './operations/deadLetters.ts';
export type { DeadLetterRow, DeadLetterFilter } from './postgres/listDeadLetters.ts';
export type { DeadLetterTarget } from './postgres/retryDeadLetters.ts';
export type { FailurePolicy } from './core/partitionScheduler.ts';
export { relay, tenantRegistryBucket, type Relay, type RelayStatus } from './jetstream/relay.ts';
export type { RelayOptions, TenantStreamLimits } from './jetstream/relayOptions.ts';
export { RelayHeaders } from './jetstream/streamNames.ts';
export { tenantToken, tenantOfToken } from './jetstream/tenantToken.ts';
export { tenantStreamNames } from './jetstream/streamNames.ts';
export type { NatsCredentials } from './jetstream/natsCredentials.ts';
export { partitionedReactor, type OutboxMessage, type PartitionedReactorOptions, type ReactorContext, type ReactorMessageContext } from './projector/partitionedReactor.ts';
export { outbox, type Outbox, type OutboxDeadLetter, type OutboxPending } from './operations/outbox.ts';
export { outboxDispatcher, type OutboxDispatcher, type OutboxDispatcherOptions, type OutboxRow } from './operations/outboxDispatcher.ts';
export { isolateTenants, tenantIsolationSql, withTenant, TenantSetting, type IsolatedReadModel, type TenantIsolationOptions } from './security/tenantIsolation.ts';
export { natsConfig, type NatsConfig, type NatsConfigOptions, type TenantUser } from './security/natsConfig.ts';
export { appAccount, hostPermissions, relayPermissions, tenantInboxPrefix, tenantPermissions, type Permissions } from './security/natsPermissions.ts';
export { readStatus } from './status/readStatus.ts';
export type { StatusModel, PartitionView, ProjectorView, HostView, RelayView, PartitionHealth, RebuildView, RebuildStatus } from './status/statusModel.ts';
export { withTraceContext, parseTraceparent } from './tracing/traceContext.ts';
export { dashboardServer, type DashboardServer } from './dashboard/dashboardServer.ts';
export type { DashboardServerOptions } from './dashboard/dashboardOptions.ts';
export { AdoptionRequiredError } from './lifecycle/adoptProjectors.ts';
export { RebuildFailedError } from './lifecycle/waitForRebuild.ts';
export type { RebuildRow } from './postgres/readRebuilds.ts';
export { tenants, type Tenants, type TenantRow } from './operations/tenants.ts';
export { projectorVersions, type ProjectorVersions } from './operations/versions.ts';
export type { ReadModelVersion, VersionState } from './postgres/readModelVersions.ts';
