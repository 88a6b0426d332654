import { readMessagesBatch } from '@event-driven-io/emmett-postgresql';
import type { Dumbo } from '@event-driven-io/dumbo';
import type { ProjectorEvent } from '../projector/partitionedProjector.js';

export type EventBatch = { events: ProjectorEvent[]; lastPosition: bigint; more: boolean };

/**
 * Reads the next batch after `after` through Emmett's batch reader, which only returns events of
 * transactions that can no longer be joined by an earlier one. Events come back in global-position order.
 */
export const readEventBatch = async (pool: Dumbo, after: bigint, batchSize: number): Promise<EventBatch> => {
  const batch = await readMessagesBatch(pool.execute, { after, batchSize });
  const events = (batch.messages as ProjectorEvent[]).sort((a, b) =>
    a.metadata.globalPosition < b.metadata.globalPosition ? -1 : a.metadata.globalPosition > b.metadata.globalPosition ? 1 : 0,
  );
  const last = events.at(-1);
  return { events, lastPosition: last ? last.metadata.globalPosition : after, more: batch.areMessagesLeft };
};
