export { partitionedProjector, type PartitionedProjector, type PartitionedProjectorOptions, type Placement, type ProjectorEvent } from './projector/partitionedProjector.js';
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
  WorkerError,
} from './core/errors.js';
export { listDeadLetters, type DeadLetterRow } from './postgres/listDeadLetters.js';
