import type { ErrorInfo } from '../core/errors.js';
import type { ProjectorEvent } from '../projector/partitionedProjector.js';
import { inPartitionTransaction, type CommitResult, type PartitionTransaction } from './applyPartitionBatch.js';
import { recordDeadLetter } from './recordDeadLetter.js';

/** Moves the checkpoint past one event and records it as a dead letter, in the same fenced transaction. */
export const skipToDeadLetter = async (
  scope: PartitionTransaction,
  event: ProjectorEvent,
  error: ErrorInfo,
  attempts: number,
): Promise<CommitResult> =>
  inPartitionTransaction(scope, event.metadata.globalPosition, async (_context, client) => {
    await recordDeadLetter(client, {
      processorId: scope.projector.processorId,
      partition: scope.partition,
      event,
      error,
      attempts,
      decision: 'skipped',
    });
    return 0;
  });
