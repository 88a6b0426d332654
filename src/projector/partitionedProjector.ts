import type { AdoptedCheckpoint } from '../core/adoptedCheckpoint.ts';
import type { Event, ReadEvent } from '@event-driven-io/emmett';
import type { PostgreSQLProjectionDefinition, PostgreSQLProjectionHandlerContext, PostgresReadEventMetadata } from '@event-driven-io/emmett-postgresql';
import { ConfigurationError } from '../core/errors.ts';
import { optionChecks } from '../options/optionChecks.ts';
import { DefaultBackoff, type BackoffOptions, type ResolvedBackoffOptions } from '../core/backoff.ts';
import { DefaultMinShare, type FailurePolicy } from '../core/partitionScheduler.ts';
import type { Placement } from '../core/threadPlacement.ts';

export type { Placement };

export type ProjectorEvent<EventType extends Event = Event> = ReadEvent<EventType, PostgresReadEventMetadata>;

export type PartitionedProjectorOptions<EventType extends Event = Event> = {
  /** Names the projector's checkpoints in `emt_processors`. Must not start with `distributary:`. */
  processorId: string;
  /** Any Emmett PostgreSQL projection definition. */
  projection: PostgreSQLProjectionDefinition<EventType>;
  /** The partition key of an event; must return a non-empty string. */
  partitionBy: (event: ProjectorEvent<EventType>) => string;
  /**
   * How its partitions map onto the engine's worker threads (`projectionEngine`'s `threads`, shared by
   * all its projectors): `hash` over all of them (or at most `workers`), `per-partition` (each new
   * partition on the least loaded of at most `maxThreads`), or `dedicated` (the listed partitions get a
   * thread of their own out of the budget). @default { type: 'hash' }
   */
  placement?: Placement;
  /** Most events applied in one transaction for one partition. @default 500 */
  batchSize?: number;
  /**
   * Transactions this projector keeps open at once on one worker thread, each for a different
   * partition. The thread's own limit is the largest `concurrency` of the projectors it runs. @default 4
   */
  concurrency?: number;
  /**
   * When several partitions of a thread have a few events each, up to this many of them share one
   * transaction (each with its own checkpoint compare-and-set; together no more than `batchSize`
   * events), and `handle` gets their events in one call, each partition's in order. Far fewer round
   * trips when many tenants trickle. A group that fails goes back to the queue, each partition to run
   * alone, so errors, dead letters and fencing stay per partition; a partition whose last transaction
   * was slow runs alone too. 1 gives every batch its own transaction. @default 32
   */
  partitionsPerTransaction?: number;
  /**
   * A thread picks the next partition by weighted fair queuing (weights set with `engine.setWeight` or
   * `distributary weights set`, default 1). No partition with events waiting gets an effective weight
   * below this fraction of the waiting partitions' total weight. A partition never has more than one
   * batch in flight: its batches commit in order through the checkpoint compare-and-set. @default 0.01
   */
  minShare?: number;
  /**
   * The projector's version. A higher version of the same processorId, exported beside the current
   * one, builds its read models beside them (name them apart, as Emmett's `version` option does:
   * `<collection>_v<version>`) and becomes current once caught up; see `engine.readModel`. @default 1
   */
  version?: number;
  /**
   * What to do when the processor id has a checkpoint Emmett's own processor wrote (moving a projector
   * from Emmett) and nothing of distributary's: `'emmett-checkpoint'` starts every partition after
   * that checkpoint; `'rebuild'` truncates the read models (the projection's `truncate`) and applies
   * every event from the start. Without it the engine refuses to start rather than apply the events
   * again. Once taken over, later starts go on from distributary's own checkpoints.
   */
  adopt?: 'emmett-checkpoint' | 'rebuild';
  /**
   * Deletes one partition's rows from the projection's read models, in the transaction that also
   * resets its checkpoint: what `engine.rebuild(processorId, { partition })` needs (a projector
   * without it can only be rebuilt whole). `context` is what Emmett gives a projection's `truncate`.
   */
  truncatePartition?: (partition: string, context: PostgreSQLProjectionHandlerContext) => Promise<void>;
  /** What happens when applying a batch throws. Outages (the database away) are retried without limit and never dead-letter. */
  onError?: {
    /** Attempts at a failing batch before it is bisected to find the failing event. @default 5 */
    retries?: number;
    /** @default { initialMs: 100, maxMs: 5000, jitter: 0.2 } */
    backoff?: BackoffOptions;
    /**
     * After the attempts, the event goes to dead letters and the partition either stops in front of it
     * until an operator retries or discards it (`halt`, strict order), or moves past it (`skip`, recorded).
     * @default 'halt'
     */
    then?: FailurePolicy;
    /** A batch still running after this long is cut off (its transaction terminated) and counts as a failed attempt. @default 30000 */
    batchTimeoutMs?: number;
  };
};

export type PartitionedProjector<EventType extends Event = Event> = {
  readonly kind: typeof ProjectorBrand;
  /**
   * Names this version of the projector everywhere (checkpoints, leases, dead letters, status):
   * the declared processorId for version 1, `processorId@v<version>` for later ones, so that two
   * versions of one projector run side by side.
   */
  readonly processorId: string;
  /** The processorId it was declared with: the same for all its versions. */
  readonly name: string;
  readonly projection: PostgreSQLProjectionDefinition<EventType>;
  readonly partitionBy: (event: ProjectorEvent<EventType>) => unknown;
  readonly placement: Placement;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly partitionsPerTransaction: number;
  readonly minShare: number;
  readonly version: number;
  readonly onError: { retries: number; backoff: ResolvedBackoffOptions; then: FailurePolicy; batchTimeoutMs: number };
  /** Event types the projection handles; other events never reach a worker. */
  readonly handles: ReadonlySet<string>;
  readonly adopt?: 'emmett-checkpoint' | 'rebuild';
  readonly truncatePartition?: (partition: string, context: PostgreSQLProjectionHandlerContext) => Promise<void>;
  /** Set by the engine once it took over an Emmett checkpoint: the events it covers are skipped. */
  readonly adopted?: AdoptedCheckpoint;
};

/**
 * A projector of any event type. The event type only matters where the user writes `partitionBy` and
 * `evolve`; the engine passes each projector its own events, so it erases the type here.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPartitionedProjector = PartitionedProjector<any>;

export const ProjectorBrand = Symbol.for('distributary.partitionedProjector');

export const ReservedProcessorPrefix = 'distributary:';

const VersionSuffix = /@v\d+$/;

/** What names a version of a projector in distributary's tables and maps: `orders`, `orders@v2`. */
/** C0 and C1 controls and DEL. */
const ControlCharacter = /\p{Cc}/u;

/** Longest processor id accepted. */
export const MaxProcessorIdLength = 200;

export const runtimeId = (processorId: string, version: number): string => (version === 1 ? processorId : `${processorId}@v${version}`);

const check = optionChecks('partitionedProjector');

const resolvePlacement = (placement: Placement | undefined): Placement => {
  if (placement === undefined) return { type: 'hash' };
  check.known('placement', placement, placement.type === 'hash' ? ['type', 'workers'] : placement.type === 'per-partition' ? ['type', 'maxThreads'] : ['type', 'partitions']);
  if (placement.type === 'hash')
    return placement.workers === undefined ? { type: 'hash' } : { type: 'hash', workers: check.positiveInteger('placement.workers', placement.workers, 1) };
  if (placement.type === 'per-partition')
    return { type: 'per-partition', maxThreads: check.positiveInteger('placement.maxThreads', placement.maxThreads, 1) };
  if (placement.type === 'dedicated') {
    const { partitions } = placement;
    if (!Array.isArray(partitions) || partitions.length === 0 || partitions.some((key) => typeof key !== 'string' || key.length === 0))
      throw new ConfigurationError(`partitionedProjector: options.placement.partitions must be a non-empty array of partition keys, got ${JSON.stringify(partitions)}`);
    return { type: 'dedicated', partitions: [...new Set(partitions)] };
  }
  throw new ConfigurationError(
    `partitionedProjector: options.placement.type must be 'hash', 'per-partition' or 'dedicated', got ${String((placement as { type: unknown }).type)}`,
  );
};

const checkFunction = <F>(name: string, value: F): F => {
  if (typeof value === 'function') return value;
  throw new ConfigurationError(`partitionedProjector: options.${name} must be a function, got ${typeof value}`);
};

/** The projector's own `truncatePartition`, or the one its projection brings (`pongoBatchProjection` with `partitionField`). */
const truncatePartitionOf = (options: { truncatePartition?: unknown; projection: unknown }): { truncatePartition?: PartitionedProjector['truncatePartition'] } => {
  if (options.truncatePartition !== undefined) return { truncatePartition: checkFunction('truncatePartition', options.truncatePartition as PartitionedProjector['truncatePartition']) };
  const fromProjection = (options.projection as { truncatePartition?: unknown }).truncatePartition;
  return typeof fromProjection === 'function' ? { truncatePartition: fromProjection as PartitionedProjector['truncatePartition'] } : {};
};

const checkAdopt = (adopt: unknown): 'emmett-checkpoint' | 'rebuild' => {
  if (adopt === 'emmett-checkpoint' || adopt === 'rebuild') return adopt;
  throw new ConfigurationError(`partitionedProjector: options.adopt must be 'emmett-checkpoint' or 'rebuild', got ${JSON.stringify(adopt)}`);
};

/** Declares a projector whose events are applied per partition, in order, on worker threads. */
export const partitionedProjector = <EventType extends Event>(
  options: PartitionedProjectorOptions<EventType>,
): PartitionedProjector<EventType> => {
  const { processorId, projection, partitionBy } = options;
  if (typeof processorId !== 'string' || processorId.length === 0)
    throw new ConfigurationError('partitionedProjector: options.processorId must be a non-empty string');
  // Processor ids name consumers, metric series, log fields and status rows: printable and bounded.
  if (processorId.length > MaxProcessorIdLength || ControlCharacter.test(processorId))
    throw new ConfigurationError(`partitionedProjector: options.processorId must be at most ${MaxProcessorIdLength} characters, none of them a control character, got ${JSON.stringify(processorId.slice(0, 80))}${processorId.length > 80 ? '...' : ''}`);
  if (VersionSuffix.test(processorId))
    throw new ConfigurationError(`partitionedProjector: options.processorId must not end in '@v<number>' (distributary names later versions so), got '${processorId}'; use options.version`);
  if (processorId.startsWith(ReservedProcessorPrefix))
    throw new ConfigurationError(`partitionedProjector: options.processorId must not start with '${ReservedProcessorPrefix}', got '${processorId}'`);
  if (typeof projection?.handle !== 'function')
    throw new ConfigurationError(`partitionedProjector '${processorId}': options.projection must be an Emmett projection definition`);
  if (typeof partitionBy !== 'function')
    throw new ConfigurationError(`partitionedProjector '${processorId}': options.partitionBy must be a function`);
  check.known('', options, ['processorId', 'projection', 'partitionBy', 'placement', 'batchSize', 'concurrency', 'partitionsPerTransaction', 'minShare', 'version', 'adopt', 'truncatePartition', 'onError']);
  check.known('onError', options.onError, ['retries', 'backoff', 'then', 'batchTimeoutMs']);
  check.known('onError.backoff', options.onError?.backoff, ['initialMs', 'maxMs', 'jitter']);
  const then = options.onError?.then ?? 'halt';
  if (then !== 'halt' && then !== 'skip')
    throw new ConfigurationError(`partitionedProjector: options.onError.then must be 'halt' or 'skip', got ${String(then)}`);
  const backoff = options.onError?.backoff;
  const version = check.positiveInteger('version', options.version, 1);
  return {
    kind: ProjectorBrand,
    processorId: runtimeId(processorId, version),
    name: processorId,
    projection,
    partitionBy,
    placement: resolvePlacement(options.placement),
    batchSize: check.positiveInteger('batchSize', options.batchSize, 500),
    concurrency: check.positiveInteger('concurrency', options.concurrency, 4),
    partitionsPerTransaction: check.positiveInteger('partitionsPerTransaction', options.partitionsPerTransaction, 32),
    minShare: check.fraction('minShare', options.minShare, DefaultMinShare),
    version,
    onError: {
      retries: check.nonNegativeInteger('onError.retries', options.onError?.retries, 5),
      backoff: {
        initialMs: check.positive('onError.backoff.initialMs', backoff?.initialMs, DefaultBackoff.initialMs),
        maxMs: check.positive('onError.backoff.maxMs', backoff?.maxMs, DefaultBackoff.maxMs),
        jitter: check.fraction('onError.backoff.jitter', backoff?.jitter, DefaultBackoff.jitter),
      },
      then,
      batchTimeoutMs: check.positiveInteger('onError.batchTimeoutMs', options.onError?.batchTimeoutMs, 30_000),
    },
    handles: new Set(projection.canHandle),
    ...(options.adopt === undefined ? {} : { adopt: checkAdopt(options.adopt) }),
    ...truncatePartitionOf(options),
  };
};


export const isPartitionedProjector = (value: unknown): value is AnyPartitionedProjector =>
  typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === ProjectorBrand;
