/**
 * SQL expressions for the position an `emt_processors` row (`alias`) stores, in either of Emmett's
 * checkpoint formats (see `parseCheckpoint` in core/checkpointFormat.ts, which reads them the same
 * way): for statements that compare checkpoints without reading them out first.
 */
export const storedPositionSql = (alias: string): { tx: string; global: string } => {
  const text = `${alias}.last_processed_checkpoint`;
  return {
    // Through numeric: xid8 reads a leading zero as octal ('00000000000000000123'::xid8 is 83).
    tx: `(CASE WHEN strpos(${text}, ':') > 0 THEN split_part(${text}, ':', 1)::numeric::text::xid8 ELSE ${alias}.last_processed_transaction_id END)`,
    global: `(CASE WHEN strpos(${text}, ':') > 0 THEN split_part(${text}, ':', 2) ELSE ${text} END)::bigint`,
  };
};
