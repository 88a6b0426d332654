import { ConfigurationError } from '../core/errors.ts';

/**
 * Checks of one factory's options, each naming the option and what it got:
 * `projectionEngine: options.reader.batchSize must be a positive number, got 0`.
 */
export const optionChecks = (owner: string) => {
  const fail = (name: string, must: string, value: unknown): never => {
    throw new ConfigurationError(`${owner}: options.${name} must be ${must}, got ${typeof value === 'string' ? `'${value}'` : String(value)}`);
  };
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const resolved = value ?? fallback;
    return typeof resolved === 'number' && Number.isFinite(resolved) && resolved > 0 ? resolved : fail(name, 'a positive number', value);
  };
  return {
    positive,
    nonNegative: (name: string, value: number | undefined, fallback: number): number => {
      const resolved = value ?? fallback;
      return typeof resolved === 'number' && Number.isFinite(resolved) && resolved >= 0 ? resolved : fail(name, 'a number >= 0', value);
    },
    atLeastOne: (name: string, value: number | undefined, fallback: number): number => {
      const resolved = Math.floor(positive(name, value, fallback));
      return resolved >= 1 ? resolved : fail(name, 'at least 1', value);
    },
    positiveInteger: (name: string, value: number | undefined, fallback: number): number => {
      const resolved = value ?? fallback;
      return Number.isInteger(resolved) && resolved >= 1 ? resolved : fail(name, 'a positive integer', value);
    },
    nonNegativeInteger: (name: string, value: number | undefined, fallback: number): number => {
      const resolved = value ?? fallback;
      return Number.isInteger(resolved) && resolved >= 0 ? resolved : fail(name, 'a non-negative integer', value);
    },
    /** A TCP port to listen on; 0 picks a free one. */
    port: (name: string, value: number | undefined): number =>
      Number.isInteger(value) && value! >= 0 && value! <= 65_535 ? value! : fail(name, 'a port number from 0 to 65535', value),
    fraction: (name: string, value: number | undefined, fallback: number): number => {
      const resolved = value ?? fallback;
      return typeof resolved === 'number' && resolved >= 0 && resolved <= 1 ? resolved : fail(name, 'a number from 0 to 1', value);
    },
    /**
     * Refuses keys the factory does not know (a misspelt or unsupported option is never ignored).
     * `path` is where the object sits ('' for the options themselves, 'reader' for options.reader).
     */
    known: (path: string, value: object | undefined, keys: readonly string[]): void => {
      if (value === undefined || value === null) return;
      if (typeof value !== 'object') return void fail(path, 'an object', value);
      const unknown = Object.keys(value).filter((key) => !keys.includes(key));
      if (unknown.length > 0)
        throw new ConfigurationError(
          `${owner}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `options.${path === '' ? '' : `${path}.`}${key}`).join(', ')}; known: ${keys.join(', ')}`,
        );
    },
  };
};
