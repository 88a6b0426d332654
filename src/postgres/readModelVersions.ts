import type pg from 'pg';

export type VersionState = 'building' | 'current' | 'retired' | 'dropped';

export type ReadModelVersion = {
  /** The processorId the projector was declared with. */
  processorId: string;
  version: number;
  /** What names this version in distributary's tables: `orders`, `orders@v2`. */
  runtimeId: string;
  /** The projection's name (a Pongo projection's collection): what the application reads. */
  readModel: string | null;
  kind: string | null;
  state: VersionState;
  registeredAt: Date;
  switchedAt: Date | null;
};

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

const columns = `processor_id AS "processorId", version, runtime_id AS "runtimeId", read_model AS "readModel", kind, state,
  registered_at AS "registeredAt", switched_at AS "switchedAt"`;

/** Every version recorded, of one projector or of all, in order. */
export const readModelVersions = async (db: Queryable, processorId?: string): Promise<ReadModelVersion[]> =>
  (
    await db.query<ReadModelVersion>(`SELECT ${columns} FROM distributary_read_models WHERE $1::text IS NULL OR processor_id = $1 ORDER BY processor_id, version`, [
      processorId ?? null,
    ])
  ).rows;

/** Records a version once (as building); a version already recorded keeps its state. */
export const registerReadModelVersion = async (
  db: Queryable,
  version: Pick<ReadModelVersion, 'processorId' | 'version' | 'runtimeId' | 'readModel' | 'kind'>,
): Promise<void> => {
  await db.query(
    `INSERT INTO distributary_read_models (processor_id, version, runtime_id, read_model, kind, state) VALUES ($1, $2, $3, $4, $5, 'building')
     ON CONFLICT (processor_id, version) DO NOTHING`,
    [version.processorId, version.version, version.runtimeId, version.readModel, version.kind],
  );
};

/** Makes `version` current where the projector has no current version yet; true if it did. */
export const makeCurrentIfNone = async (db: Queryable, processorId: string, version: number): Promise<boolean> => {
  const { rowCount } = await db.query(
    `UPDATE distributary_read_models SET state = 'current', switched_at = clock_timestamp()
      WHERE processor_id = $1 AND version = $2 AND state = 'building'
        AND NOT EXISTS (SELECT 1 FROM distributary_read_models WHERE processor_id = $1 AND state = 'current')`,
    [processorId, version],
  );
  return rowCount === 1;
};

/**
 * In one transaction: the building `version` becomes current and the version current until now
 * retired. False when it is no longer building (another host switched it, or it was dropped).
 */
export const switchReadModel = async (client: pg.PoolClient, processorId: string, version: number): Promise<boolean> => {
  const { rows } = await client.query<{ state: string }>('SELECT state FROM distributary_read_models WHERE processor_id = $1 AND version = $2 FOR UPDATE', [processorId, version]);
  if (rows[0]?.state !== 'building') return false;
  await client.query(`UPDATE distributary_read_models SET state = 'retired' WHERE processor_id = $1 AND state = 'current'`, [processorId]);
  await client.query(`UPDATE distributary_read_models SET state = 'current', switched_at = clock_timestamp() WHERE processor_id = $1 AND version = $2`, [processorId, version]);
  return true;
};

export const markVersionDropped = async (db: Queryable, processorId: string, version: number): Promise<void> => {
  await db.query(`UPDATE distributary_read_models SET state = 'dropped' WHERE processor_id = $1 AND version = $2`, [processorId, version]);
};
