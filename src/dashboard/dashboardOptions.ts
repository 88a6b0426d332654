import { ConfigurationError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { asLogger, stderrLogger, type AnyLogger } from '../logging/pinoLogger.ts';
import { optionChecks } from '../options/optionChecks.ts';

export type DashboardServerOptions = {
  /** PostgreSQL connection string of the event store the engines and relays write their status to. */
  connectionString: string;
  /** Port to listen on; 0 takes any free port (the URL returned names it). @default 0 */
  port?: number;
  /** Address to listen on. Anything but a loopback address shows the status to the network. @default '127.0.0.1' */
  host?: string;
  /**
   * Enables retrying and discarding dead letters and rebuilding from the page: requests must carry it as
   * `Authorization: Bearer <token>`. Without it the dashboard only reads. @default undefined
   */
  token?: string;
  /** How often the page polls the status. @default 2000 */
  refreshMs?: number;
  /** Where failed requests are reported. @default warnings and errors to stderr */
  logger?: AnyLogger;
};

export type ResolvedDashboardOptions = {
  connectionString: string;
  port: number;
  host: string;
  token: string | undefined;
  refreshMs: number;
  logger: Logger;
};

const check = optionChecks('dashboardServer');

export const resolveDashboardOptions = (options: DashboardServerOptions): ResolvedDashboardOptions => {
  check.known('', options, ['connectionString', 'port', 'host', 'token', 'refreshMs', 'logger']);
  if (typeof options.connectionString !== 'string' || options.connectionString.length === 0)
    throw new ConfigurationError('dashboardServer: options.connectionString must be a PostgreSQL connection string');
  const port = check.nonNegativeInteger('port', options.port, 0);
  if (port > 65_535) throw new ConfigurationError(`dashboardServer: options.port must be a port number from 0 to 65535, got ${port}`);
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host.length === 0))
    throw new ConfigurationError(`dashboardServer: options.host must be a host name or address, got ${String(options.host)}`);
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length === 0))
    throw new ConfigurationError('dashboardServer: options.token must be a non-empty string when set');
  return {
    connectionString: options.connectionString,
    port,
    host: options.host ?? '127.0.0.1',
    token: options.token,
    refreshMs: check.atLeastOne('refreshMs', options.refreshMs, 2000),
    logger: asLogger(options.logger ?? stderrLogger()),
  };
};
