import type pg from 'pg';
import { resolvePartitionKey } from '../core/partitionKey.ts';
import { BeforeFirstPosition, comparePositions, isCovered, type Position } from '../core/position.ts';
import type { StoppedPartition } from '../router/partitionRouter.ts';
import type { AnyPartitionedProjector } from '../projector/partitionedProjector.ts';
import { readCheckpoints } from '../postgres/readCheckpoints.ts';
import { readEventBatch } from '../postgres/readEventBatch.ts';
import { readHaltedPartitions } from '../postgres/readHaltedPartitions.ts';

/** Events after a stored mark a standby looks at itself; further behind, it waits for the mark to move. */
const MaxEventsPastMark = 5000;

export const markProcessorId = (group: string, projector: AnyPartitionedProjector): string => `distributary:mark:${group}:${projector.processorId}`;

/**
 * Whether what is stored (by whichever host committed it) covers every event up to `target` for one
 * projector: its low-water mark is there, or every event the projector handles between the mark and
 * `target` is at or before its partition's checkpoint, or its partition is halted in front of a dead
 * letter. Undefined when not (yet); otherwise the halted partitions it did not wait for.
 */
export const storedCatchUp = async (db: pg.Pool, group: string, projector: AnyPartitionedProjector, target: Position): Promise<StoppedPartition[] | undefined> => {
  const { processorId, version } = projector;
  const mark = (await readCheckpoints(db, markProcessorId(group, projector), version)).get('emt:default') ?? BeforeFirstPosition;
  if (comparePositions(mark, target) >= 0) return [];
  const batch = await readEventBatch(db, mark, MaxEventsPastMark);
  // Not read up to the target: too far behind, or an older transaction still open keeps events back.
  if (comparePositions(batch.last, target) < 0) return undefined;
  const past = batch.events.filter((item) => comparePositions(item.position, target) <= 0);
  const keyed: { key: string; position: Position }[] = [];
  for (const item of past) {
    if (!projector.handles.has(item.event.type)) continue;
    const key = resolvePartitionKey(projector.partitionBy, item.event);
    // Events without a usable key were dead-lettered by whoever read them.
    if (key.ok) keyed.push({ key: key.key, position: item.position });
  }
  // Only the checkpoints of the partitions those events belong to: a standby asks every 100 ms.
  const [checkpoints, halted] = await Promise.all([readCheckpoints(db, processorId, version, [...new Set(keyed.map((k) => k.key))]), readHaltedPartitions(db, processorId)]);
  const stopped = new Set<string>();
  for (const { key, position } of keyed) {
    if (halted.has(key)) stopped.add(key);
    else if (!isCovered(position, checkpoints.get(key) ?? null)) return undefined;
  }
  return [...stopped].map((partition) => ({ processorId, partition, state: 'halted' as const }));
};
