import type { ProjectorEvent } from './partitionedProjector.ts';

export type StoredEvent = { type: string; data: ProjectorEvent['data']; metadata: Record<string, unknown> };

/** An event back from JSON (dead-letter payloads, relayed messages): positions become bigints again. */
export const reviveEvent = (stored: StoredEvent): ProjectorEvent =>
  ({
    type: stored.type,
    data: stored.data,
    kind: 'Event',
    metadata: {
      ...stored.metadata,
      globalPosition: BigInt(String(stored.metadata.globalPosition)),
      streamPosition: BigInt(String(stored.metadata.streamPosition)),
    },
  }) as ProjectorEvent;
