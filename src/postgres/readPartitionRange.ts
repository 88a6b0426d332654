import type pg from 'pg';
import { resolvePartitionKey } from '../core/partitionKey.js';
import { comparePositions, type Position } from '../core/position.js';
import type { ProjectorEvent } from '../projector/partitionedProjector.js';
import { readEventBatch, type PositionedEvent } from './readEventBatch.js';

/**
 * One partition's events strictly after `after` and strictly before `before`, in delivery order, read
 * from the store in pages of `pageSize` (every event of the range is read; only the partition's are kept).
 */
export async function* readPartitionRange(
  db: pg.Pool,
  range: { partitionBy: (event: ProjectorEvent) => unknown; partition: string; after: Position; before: Position },
  pageSize = 1000,
): AsyncGenerator<PositionedEvent[]> {
  for (let after = range.after; comparePositions(after, range.before) < 0; ) {
    const page = await readEventBatch(db, after, pageSize);
    const inRange = page.events.filter((item) => comparePositions(item.position, range.before) < 0);
    const own = inRange.filter((item) => {
      const key = resolvePartitionKey(range.partitionBy, item.event);
      return key.ok && key.key === range.partition;
    });
    if (own.length > 0) yield own;
    if (inRange.length < page.events.length || !page.more) return;
    after = page.last;
  }
}
