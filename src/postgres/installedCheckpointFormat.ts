import * as emmettPostgreSQL from '@event-driven-io/emmett-postgresql';
import type { CheckpointFormat } from '../core/checkpointFormat.ts';

/**
 * The checkpoint format the installed Emmett writes, so that checkpoints distributary stores read the
 * same as Emmett's own. Told by what Emmett exports rather than by its version number (prereleases
 * changed the format): from the release that writes `<transaction>:<position>` on,
 * `@event-driven-io/emmett-postgresql` exports the `PostgreSQLEventStoreCheckpoint` that formats it.
 */
export const installedCheckpointFormat: CheckpointFormat = 'PostgreSQLEventStoreCheckpoint' in emmettPostgreSQL ? 'transaction:position' : 'position';
