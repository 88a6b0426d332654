import pg from 'pg';
import { dropVersion, readModelOf } from '../lifecycle/projectorVersions.ts';
import { readModelVersions, type ReadModelVersion } from '../postgres/readModelVersions.ts';

export type ProjectorVersions = {
  /** The version to read (current), or undefined when the projector was never started against this database. */
  current(processorId: string): Promise<ReadModelVersion | undefined>;
  /** Every version recorded, of one projector or of all. */
  list(processorId?: string): Promise<ReadModelVersion[]>;
  /**
   * Drops a version that is not current: its checkpoints and everything stored under its id, and a
   * Pongo projection's collection table (which it names; other read models are left to the application).
   */
  drop(processorId: string, version: number): Promise<{ droppedTable: string | null }>;
  close(): Promise<void>;
};

/** The versions of projectors, for applications (which read model to read) and tools: from any process. */
export const projectorVersions = (options: { connectionString: string }): ProjectorVersions => {
  const db = new pg.Pool({ connectionString: options.connectionString, max: 2 });
  return {
    current: (processorId) => readModelOf(db, processorId),
    list: (processorId) => readModelVersions(db, processorId),
    drop: (processorId, version) => dropVersion(db, processorId, version),
    close: () => db.end(),
  };
};
