import { ConfigurationError } from '../core/errors.ts';
import { subjectToken, tenantToken } from './tenantToken.ts';

export type TenantStreamNames = { token: string; stream: string; subjects: string; subject(eventType: string): string };

/** Validates the application token that starts every subject and stream name. */
export const checkApp = (app: unknown): string => {
  if (typeof app !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(app))
    throw new ConfigurationError(`relay: options.app must be 1-32 lowercase letters, digits or '-', starting with a letter, got ${JSON.stringify(app)}`);
  return app;
};

/** Stream `{APP}_TENANT_{token}` capturing `{app}.tenants.{token}.>`, one per tenant. */
export const tenantStreamNames = (app: string, tenant: string): TenantStreamNames => {
  const token = tenantToken(tenant);
  return {
    token,
    stream: `${app.toUpperCase().replaceAll('-', '_')}_TENANT_${token}`,
    subjects: `${app}.tenants.${token}.>`,
    subject: (eventType) => `${app}.tenants.${token}.${subjectToken(eventType)}`,
  };
};

/** Core NATS subject on which the relay names the streams it just stored messages in. */
export const activitySubject = (app: string): string => `${app}.activity`;

/** The registry bucket hosts watch for new tenants. */
export const tenantRegistryBucket = (app: string): string => `${app}_tenants`;

/** Headers the relay puts on every message. */
export const RelayHeaders = {
  globalPosition: 'Distributary-Global-Position',
  transactionId: 'Distributary-Transaction-Id',
  streamName: 'Distributary-Stream',
  eventType: 'Distributary-Event-Type',
  tenant: 'Distributary-Tenant',
  messageId: 'Distributary-Message-Id',
} as const;
