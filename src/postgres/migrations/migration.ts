/** One step of distributary's schema: applied once, in a transaction, recorded under its version in `distributary_migrations`. */
export type Migration = {
  /** Its place in the order: 1, 2, 3... as the file name says. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
};
