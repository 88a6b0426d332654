import type { Event } from '@event-driven-io/emmett';
import { postgreSQLProjection, type PostgreSQLProjectionHandlerContext } from '@event-driven-io/emmett-postgresql';
import { ConfigurationError } from '../core/errors.ts';
import { toJson } from '../core/toJson.ts';
import { optionChecks } from '../options/optionChecks.ts';
import { partitionedProjector, type PartitionedProjector, type PartitionedProjectorOptions, type ProjectorEvent } from './partitionedProjector.ts';

/*
 * A reactor: side effects per partition, run by the engine like a projector (same threads, placement,
 * fairness, retries, dead letters, halt and skip, ownership, status), with a handler in place of a
 * projection. Per partition, one message (eachMessage) or one batch (eachBatch) at a time, in order;
 * the checkpoint moves in the transaction that runs the handler, after it returned. So delivery is at
 * least once: a crash after the effect and before the commit repeats that message (or that batch), with
 * the same idempotency key. Writes through `context.client` and `context.outbox` share the
 * checkpoint's transaction: they happen exactly once.
 */

export type OutboxMessage = {
  /** Where the dispatcher sends it (its deliver function decides what a topic means). */
  topic: string;
  payload: unknown;
  /** Unique per message; defaults to the handled message's idempotency key (and `#n` after the first). */
  key?: string;
};

export type ReactorContext = {
  partition: string;
  processorId: string;
  /** `processorId/partition/globalPosition` of a message: the same on every delivery of it. */
  idempotencyKey(message: ProjectorEvent): string;
  /** The connection of the transaction the checkpoint commits in (`client.query(sql, params)`). */
  client: PostgreSQLProjectionHandlerContext['connection']['client'];
  /** Puts a message in the outbox in this transaction; a dispatcher delivers it (see outboxDispatcher). */
  emit(message: OutboxMessage): Promise<void>;
};

/** What eachMessage gets: the message's own idempotency key. */
export type ReactorMessageContext = Omit<ReactorContext, 'idempotencyKey'> & { idempotencyKey: string };

type Handlers<E extends Event> =
  | { eachMessage: (message: ProjectorEvent<E>, context: ReactorMessageContext) => unknown; eachBatch?: never }
  | { eachBatch: (messages: ProjectorEvent<E>[], context: ReactorContext) => unknown; eachMessage?: never };

export type PartitionedReactorOptions<E extends Event = Event> = Handlers<E> & {
  processorId: string;
  partitionBy: (event: ProjectorEvent<E>) => string;
  /** Event types handed to the handler; others never reach a thread. */
  canHandle: E['type'][];
  /** With eachBatch: most messages per call (and per checkpoint). @default 100 */
  batchSize?: number;
} & Pick<PartitionedProjectorOptions<E>, 'placement' | 'concurrency' | 'minShare' | 'onError'>;

const check = optionChecks('partitionedReactor');

const keyOf = (processorId: string, partition: string, message: ProjectorEvent): string =>
  `${processorId}/${partition}/${String(message.metadata.globalPosition)}`;

export const partitionedReactor = <E extends Event>(options: PartitionedReactorOptions<E>): PartitionedProjector<E> => {
  check.known('', options, ['processorId', 'partitionBy', 'canHandle', 'eachMessage', 'eachBatch', 'batchSize', 'placement', 'concurrency', 'minShare', 'onError']);
  const { processorId, eachMessage, eachBatch, partitionBy } = options;
  const name = typeof processorId === 'string' ? `'${processorId}'` : '';
  if ((eachMessage === undefined) === (eachBatch === undefined))
    throw new ConfigurationError(`partitionedReactor ${name}: give one of options.eachMessage and options.eachBatch`);
  const handler = eachMessage ?? eachBatch;
  if (typeof handler !== 'function') throw new ConfigurationError(`partitionedReactor ${name}: options.${eachMessage !== undefined ? 'eachMessage' : 'eachBatch'} must be a function`);
  if (!Array.isArray(options.canHandle) || options.canHandle.length === 0)
    throw new ConfigurationError(`partitionedReactor ${name}: options.canHandle must list the event types it reacts to`);
  if (eachMessage !== undefined && options.batchSize !== undefined)
    throw new ConfigurationError(`partitionedReactor ${name}: options.batchSize goes with eachBatch; eachMessage takes one message per checkpoint`);
  const batchSize = eachMessage !== undefined ? 1 : check.positiveInteger('batchSize', options.batchSize, 100);

  const contextOf = (partition: string, context: PostgreSQLProjectionHandlerContext, first: ProjectorEvent): ReactorContext => {
    const { client } = context.connection;
    let emitted = 0;
    return {
      partition,
      processorId,
      idempotencyKey: (message) => keyOf(processorId, partition, message),
      client,
      async emit(message) {
        if (typeof message?.topic !== 'string' || message.topic === '') throw new ConfigurationError(`reactor '${processorId}': emit needs a topic (a non-empty string)`);
        const key = message.key ?? `${keyOf(processorId, partition, first)}${emitted === 0 ? '' : `#${emitted}`}`;
        emitted++;
        await client.query(
          `INSERT INTO distributary_outbox (processor_id, partition, message_key, topic, payload) VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (message_key) DO NOTHING`,
          [processorId, partition, key, message.topic, toJson(message.payload ?? null)],
        );
      },
    };
  };

  const projection = postgreSQLProjection<E>({
    name: `reactor:${processorId}`,
    canHandle: options.canHandle,
    handle: async (events, context) => {
      // One partition per transaction (partitionsPerTransaction 1): every event here is of the same partition.
      const messages = events as ProjectorEvent<E>[];
      const first = messages[0];
      if (first === undefined) return;
      const partition = partitionBy(first);
      const reactorContext = contextOf(partition, context, first);
      if (eachMessage !== undefined) {
        for (const message of messages) await eachMessage(message, { ...reactorContext, idempotencyKey: reactorContext.idempotencyKey(message) });
      } else await eachBatch(messages, reactorContext);
    },
  });

  return partitionedProjector<E>({
    processorId,
    projection,
    partitionBy,
    batchSize,
    // A group transaction that fails runs its partitions again one by one: effects of the others would repeat.
    partitionsPerTransaction: 1,
    ...(options.placement === undefined ? {} : { placement: options.placement }),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.minShare === undefined ? {} : { minShare: options.minShare }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
};
