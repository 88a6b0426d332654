export { partitionedProjector, type PartitionedProjector, type PartitionedProjectorOptions, type Placement, type ProjectorEvent } from './projector/partitionedProjector.js';
export { pongoBatchProjection, type PongoBatchProjectionOptions } from './projector/pongoBatchProjection.js';
export { projectionEngine, type ProjectionEngine } from './engine/projectionEngine.js';
export type { ProjectionEngineOptions } from './engine/options.js';
export type { EngineStatus, ProjectorStatus, PartitionStatus, EngineRole } from './engine/status.js';
export type { PartitionState } from './core/partitionScheduler.js';
export { migrate } from './postgres/migrate.js';
export { stderrLogger, silentLogger, type Logger } from './core/logger.js';
export {
  DistributaryError,
  ConfigurationError,
  PartitionKeyError,
  OwnershipLostError,
  WaitTimeoutError,
  BatchTimeoutError,
  WorkerError,
} from './core/errors.js';
export { deadLetters, type DeadLetters } from './operations/deadLetters.js';
export type { DeadLetterRow, DeadLetterFilter } from './postgres/listDeadLetters.js';
export type { DeadLetterTarget } from './postgres/retryDeadLetters.js';
export type { FailurePolicy } from './core/partitionScheduler.js';
export { relay, tenantRegistryBucket, type Relay, type RelayStatus } from './jetstream/relay.js';
export type { RelayOptions, TenantStreamLimits } from './jetstream/relayOptions.js';
export { RelayHeaders } from './jetstream/relaySession.js';
export { tenantToken, tenantOfToken } from './jetstream/tenantToken.js';
export { tenantStreamNames } from './jetstream/streamNames.js';
