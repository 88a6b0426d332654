/**
 * What names one partition of one processor everywhere it is hashed or looked up: thread placement,
 * rendezvous assignment of hosts, maps keyed by both. Processor ids and partition keys are arbitrary
 * strings; the separator is NUL, which neither can hold (PostgreSQL text cannot store it).
 */
export const partitionIdentity = (processorId: string, partition: string): string => `${processorId}\u0000${partition}`;
