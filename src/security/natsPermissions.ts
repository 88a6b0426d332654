import { activitySubject, tenantRegistryBucket, tenantStreamNames } from '../jetstream/streamNames.ts';
import { durableName, tenantToken } from '../jetstream/tenantToken.ts';

/*
 * What each kind of client of an app may do on NATS, as nats-server permissions. Every user of an app
 * lives in the app's own account, so the account holds only that app's streams (its tenant streams
 * and its registry bucket): NATS permissions match whole subject tokens (`*` is a whole token), so
 * "every `{APP}_TENANT_*` stream" is said by the account, and a wildcard over stream names in the
 * relay's and the hosts' permissions spans this app's streams and nothing else.
 *
 * - relay: publishes events to `{app}.tenants.>` and stream activity, manages the account's
 *   streams (tenant streams, the registry bucket) and writes the registry.
 * - host: consumes (creates, reads, acks and deletes durable pull consumers on the account's
 *   streams), reads the registry and the relay's activity; publishes no event.
 * - tenant: its own subjects `{app}.tenants.{token}.>` and the consumer API of its own stream, with
 *   replies on an inbox of its own (`_INBOX_{token}`; plain `_INBOX.>` carries the hosts' and the
 *   relay's replies and is refused to it); the projectors' durable consumers on its stream are refused.
 */

export type Permissions = { publish: { allow: string[]; deny?: string[] }; subscribe: { allow: string[]; deny?: string[] } };

/** The JetStream API subject prefix. */
const api = '$JS.API';

/** Reading a stream's messages and its info: what any consumer of `stream` needs (`*` for every stream of the account). */
const consumerApi = (stream: string): string[] => [
  `${api}.STREAM.INFO.${stream}`,
  `${api}.CONSUMER.CREATE.${stream}`,
  `${api}.CONSUMER.CREATE.${stream}.>`,
  `${api}.CONSUMER.DURABLE.CREATE.${stream}.*`,
  `${api}.CONSUMER.INFO.${stream}.*`,
  `${api}.CONSUMER.DELETE.${stream}.*`,
  `${api}.CONSUMER.NAMES.${stream}`,
  `${api}.CONSUMER.LIST.${stream}`,
  `${api}.CONSUMER.MSG.NEXT.${stream}.*`,
  `${api}.STREAM.MSG.GET.${stream}`,
  `${api}.DIRECT.GET.${stream}`,
  `${api}.DIRECT.GET.${stream}.>`,
  `$JS.ACK.${stream}.>`,
];

/** Name of the account an app's users are in. */
export const appAccount = (app: string): string => app.toUpperCase().replaceAll('-', '_');

/** The inbox prefix a tenant user's connection must use (`inboxPrefix` in nats.js). */
export const tenantInboxPrefix = (tenant: string): string => `_INBOX_${tenantToken(tenant)}`;

export const relayPermissions = (app: string): Permissions => {
  const bucket = tenantRegistryBucket(app);
  return {
    publish: {
      allow: [
        `${app}.tenants.>`,
        activitySubject(app),
        `${api}.INFO`,
        `${api}.STREAM.CREATE.*`,
        `${api}.STREAM.UPDATE.*`,
        `${api}.STREAM.DELETE.*`,
        `${api}.STREAM.NAMES`,
        `${api}.STREAM.LIST`,
        ...consumerApi(`KV_${bucket}`),
        `${api}.STREAM.INFO.*`,
        `$KV.${bucket}.>`,
        '$JS.FC.>',
      ],
    },
    subscribe: { allow: ['_INBOX.>'] },
  };
};

export const hostPermissions = (app: string): Permissions => ({
  publish: {
    allow: [`${api}.INFO`, `${api}.STREAM.NAMES`, `${api}.STREAM.LIST`, ...consumerApi('*'), '$JS.FC.>'],
    // The registry bucket is the relay's to write; a host only reads it.
    deny: [`$KV.${tenantRegistryBucket(app)}.>`],
  },
  subscribe: { allow: ['_INBOX.>', activitySubject(app)] },
});

/**
 * A tenant's own subjects and the consumer API of its own stream. `projectors` are the processor ids
 * whose durable consumers on the tenant's stream it may not read, ack, change or delete.
 */
export const tenantPermissions = (app: string, tenant: string, projectors: readonly string[]): Permissions => {
  const { stream, subjects } = tenantStreamNames(app, tenant);
  const durables = [...new Set(projectors.map(durableName))];
  return {
    publish: {
      allow: [subjects, `${api}.INFO`, ...consumerApi(stream)],
      deny: durables.flatMap((durable) => [
        `${api}.CONSUMER.CREATE.${stream}.${durable}`,
        `${api}.CONSUMER.CREATE.${stream}.${durable}.>`,
        `${api}.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
        `${api}.CONSUMER.INFO.${stream}.${durable}`,
        `${api}.CONSUMER.DELETE.${stream}.${durable}`,
        `${api}.CONSUMER.MSG.NEXT.${stream}.${durable}`,
        `$JS.ACK.${stream}.${durable}.>`,
      ]),
    },
    subscribe: { allow: [subjects, `${tenantInboxPrefix(tenant)}.>`] },
  };
};
