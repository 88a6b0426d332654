import type { ErrorInfo } from '../core/errors.ts';
import type { CommitOutcome } from '../core/partitionScheduler.ts';
import type { Position } from '../core/position.ts';
import { inPartitionTransaction, type PartitionTransaction } from './applyPartitionBatch.ts';
import type { PositionedEvent } from './readEventBatch.ts';
import { recordDeadLetter } from './recordDeadLetter.ts';

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
