import { deepEquals, type Event, type ReadEvent } from '@event-driven-io/emmett';
import { postgreSQLProjection, type PostgreSQLProjectionHandlerContext, type PostgresReadEventMetadata } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { ConfigurationError } from '../core/errors.ts';
import { toJson } from '../core/toJson.ts';

type Document = Record<string, unknown>;

export type PongoBatchProjectionOptions<Doc extends Document, E extends Event> = {
  /** The Pongo collection (a table of that name with Pongo's layout). */
  collectionName: string;
  canHandle: E['type'][];
  getDocumentId: (event: ReadEvent<E, PostgresReadEventMetadata>) => string;
  /** As in `pongoSingleStreamProjection`: the next document, or null to delete it. */
  evolve: (document: Doc, event: ReadEvent<E, PostgresReadEventMetadata>) => Doc | null;
  initialState: () => Doc;
  /**
   * The document field that holds the partition key (e.g. `'tenant'`): the projection can then delete
   * one partition's documents itself, so its projector can rebuild one partition without a
   * `truncatePartition` of its own.
   */
  partitionField?: string;
};

const identifier = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Pongo's collection table, as `pongo` creates it. */
const createCollectionSql = (table: string): string => `CREATE TABLE IF NOT EXISTS ${table} (
  _id TEXT PRIMARY KEY, data JSONB NOT NULL, metadata JSONB NOT NULL DEFAULT '{}', _version BIGINT NOT NULL DEFAULT 1,
  _partition TEXT NOT NULL DEFAULT 'png_global', _archived BOOLEAN NOT NULL DEFAULT FALSE,
  _created TIMESTAMPTZ NOT NULL DEFAULT now(), _updated TIMESTAMPTZ NOT NULL DEFAULT now())`;


/** `_version` the way this process's `pg` reads a BIGINT (Pongo hands documents that value). */
const readInt8 = pg.types.getTypeParser(pg.types.builtins.INT8) as (text: string) => unknown;
const asVersion = (version: number): unknown => readInt8(String(version));

type Tracked = { existed: boolean; document: Document | null; version: number; changed: boolean };

/*
 * A Pongo document projection for whole partition batches, with the `evolve` / `initialState` /
 * `getDocumentId` of `pongoSingleStreamProjection` and the same stored result (data with `_id` and
 * `_version`, `_version` counting the writes, null deletes): one query loads every document the
 * batch touches, the events fold in memory in order, one statement writes what changed. It runs in
 * the batch's transaction like any projection, so it is fenced the same way.
 */
export const pongoBatchProjection = <Doc extends Document, E extends Event>(options: PongoBatchProjectionOptions<Doc, E>) => {
  if (typeof options.collectionName !== 'string' || !identifier.test(options.collectionName))
    throw new ConfigurationError(`pongoBatchProjection: collectionName must be a plain SQL identifier, got ${JSON.stringify(options.collectionName)}`);
  const table = `"${options.collectionName}"`;
  const { partitionField } = options;
  if (partitionField !== undefined && (typeof partitionField !== 'string' || partitionField.length === 0))
    throw new ConfigurationError(`pongoBatchProjection: partitionField must be a document field name, got ${JSON.stringify(partitionField)}`);
  const projection = postgreSQLProjection<E>({
    name: options.collectionName,
    canHandle: options.canHandle,
    init: async ({ context }) => {
      await context.connection.client.query(createCollectionSql(table));
    },
    truncate: async (context) => {
      await context.connection.client.query(`DELETE FROM ${table}`);
    },
    handle: async (events, context) => {
      const client = context.connection.client;
      const ids = [...new Set(events.map((event) => options.getDocumentId(event)))];
      const { rows } = await client.query<{ _id: string; data: Document; _version: string | number | bigint }>(
        `SELECT _id, data, _version FROM ${table} WHERE _id = ANY($1::text[])`,
        [ids],
      );
      const tracked = new Map<string, Tracked>(ids.map((id) => [id, { existed: false, document: null, version: 0, changed: false }]));
      for (const row of rows) {
        const version = Number(row._version);
        tracked.set(row._id, { existed: true, document: { ...row.data, _version: row._version }, version, changed: false });
      }
      for (const event of events) {
        const id = options.getDocumentId(event);
        const doc = tracked.get(id)!;
        const next = options.evolve((doc.document === null ? options.initialState() : { ...doc.document }) as Doc, event);
        // As Pongo does: an evolve that changes nothing writes nothing.
        if (deepEquals<unknown>(doc.document, next)) continue;
        doc.changed = true;
        if (next === null) {
          doc.document = null;
          doc.version = 0;
          continue;
        }
        doc.version = doc.document === null ? 1 : doc.version + 1;
        doc.document = { ...next, _id: id, _version: asVersion(doc.version) };
      }
      const changed = [...tracked].filter(([, doc]) => doc.changed);
      if (changed.length === 0) return;
      const written = changed.filter(([, doc]) => doc.document !== null);
      const deleted = changed.filter(([, doc]) => doc.document === null && doc.existed).map(([id]) => id);
      await client.query(
        `WITH gone AS (DELETE FROM ${table} WHERE _id = ANY($4::text[]))
         INSERT INTO ${table} (_id, data, _version)
         SELECT * FROM unnest($1::text[], $2::jsonb[], $3::bigint[])
         ON CONFLICT (_id) DO UPDATE SET data = EXCLUDED.data, _version = EXCLUDED._version`,
        [
          written.map(([id]) => id),
          written.map(([, doc]) => toJson({ ...doc.document, _version: String(doc.version) })),
          written.map(([, doc]) => doc.version),
          deleted,
        ],
      );
    },
  });
  if (partitionField === undefined) return projection;
  return {
    ...projection,
    /** Deletes the documents whose `partitionField` holds `partition`. */
    truncatePartition: async (partition: string, context: PostgreSQLProjectionHandlerContext): Promise<void> => {
      await context.connection.client.query(`DELETE FROM ${table} WHERE data ->> $1 = $2`, [partitionField, partition]);
    },
  };
};
