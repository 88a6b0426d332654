import type { ErrorInfo } from '../core/errors.js';
import type { CommitOutcome } from '../core/partitionScheduler.js';
import type { Position } from '../core/position.js';
import { inPartitionTransaction, type PartitionTransaction } from './applyPartitionBatch.js';
import type { PositionedEvent } from './readEventBatch.js';
import { recordDeadLetter } from './recordDeadLetter.js';

/** Moves the checkpoint past one event and records it as a dead letter, in the same fenced transaction. */
export const skipToDeadLetter = async (
  scope: PartitionTransaction,
  item: PositionedEvent,
  error: ErrorInfo,
  attempts: number,
): Promise<CommitOutcome<Position>> =>
  inPartitionTransaction(scope, item.position, async (context) => {
    await recordDeadLetter(context.connection.client, { processorId: scope.projector.processorId, partition: scope.partition, item, error, attempts, policy: 'skip' });
    return 0;
  });
