import type pg from 'pg';
import { resolvePartitionKey } from '../core/partitionKey.ts';
import { comparePositions, type Position } from '../core/position.ts';
import type { ProjectorEvent } from '../projector/partitionedProjector.ts';
import { readEventBatch, type PositionedEvent } from './readEventBatch.ts';

/** One of the partition's events, with the position read just before it (what a mark may rest on). */
export type RangeEvent = PositionedEvent & { previous: Position };
/** A page of the range: the partition's events in it, how far it looked, and whether the range is done. */
export type RangePage = { events: RangeEvent[]; scanned: Position; done: boolean };

/**
 * One partition's events strictly after `after`, up to `before` (exclusive) or `through` (inclusive),
 * in delivery order, read from the store in pages of `pageSize`: every event of the range is read, only
 * the partition's (and of those what `keep` accepts) are kept. Stops early after `limit` kept events
 * or `maxPages` pages; the last page then says how far it looked, to go on from there.
 */
export async function* readPartitionRange(
  db: pg.Pool,
  range: {
    partitionBy: (event: ProjectorEvent) => unknown;
    partition: string;
    after: Position;
    before?: Position;
    through?: Position;
    keep?: (item: PositionedEvent) => boolean;
    limit?: number;
    maxPages?: number;
  },
  pageSize = 1000,
): AsyncGenerator<RangePage> {
  const beyond = (position: Position): boolean =>
    (range.before !== undefined && comparePositions(position, range.before) >= 0) || (range.through !== undefined && comparePositions(position, range.through) > 0);
  const limit = range.limit ?? Number.POSITIVE_INFINITY;
  let scanned = range.after;
  let kept = 0;
  for (let pages = 0; pages < (range.maxPages ?? Number.POSITIVE_INFINITY); pages++) {
    const page = await readEventBatch(db, scanned, pageSize);
    const events: RangeEvent[] = [];
    let reachedEnd = false;
    let limited = false;
    for (const item of page.events) {
      if (beyond(item.position)) {
        reachedEnd = true;
        break;
      }
      if (kept >= limit) {
        limited = true;
        break;
      }
      const previous = scanned;
      scanned = item.position;
      const key = resolvePartitionKey(range.partitionBy, item.event);
      if (!key.ok || key.key !== range.partition || range.keep?.(item) === false) continue;
      events.push({ ...item, previous });
      kept++;
    }
    // Done at the end of the range, or at the end of the store (everything there was has been looked at).
    const done = reachedEnd || (!limited && !page.more) || (range.through !== undefined && comparePositions(scanned, range.through) >= 0);
    yield { events, scanned, done };
    if (done || kept >= limit) return;
  }
}
