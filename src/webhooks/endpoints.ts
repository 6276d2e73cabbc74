/** WebhookEndpoint rows and their Stripe shape. The signing secret appears only when just created or rolled. */
import type { Selectable } from 'kysely';
import { unixSeconds, type ListParams, type Page, type Tenant } from '../kernel/index.ts';
import { paginate, type Db, type WebhookEndpointsTable, type WebhookEndpointSecretsTable } from '../db/index.ts';

export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookSecretRow = Selectable<WebhookEndpointSecretsTable>;

export function serializeWebhookEndpoint(row: WebhookEndpointRow, secret?: string): Record<string, unknown> {
  if (row.deleted) return { id: row.id, object: 'webhook_endpoint', deleted: true };
  return {
    id: row.id,
    object: 'webhook_endpoint',
    api_version: row.api_version,
    application: null,
    created: unixSeconds(row.created_at),
    description: row.description,
    enabled_events: row.enabled_events,
    livemode: row.livemode,
    metadata: row.metadata,
    ...(secret === undefined ? {} : { secret }),
    status: row.status,
    url: row.url,
    // Fenpay extensions: why an endpoint was disabled, and since when every attempt has failed.
    fenpay_disabled_reason: row.disabled_reason,
    fenpay_failing_since: row.failing_since === null ? null : unixSeconds(row.failing_since),
  };
}

export async function getWebhookEndpoint(db: Db, tenant: Tenant, id: string): Promise<WebhookEndpointRow | undefined> {
  return await db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('id', '=', id)
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where('deleted', '=', false)
    .executeTakeFirst();
}

export async function findWebhookEndpointMode(db: Db, merchantId: string, id: string): Promise<boolean | undefined> {
  const row = await db.selectFrom('webhook_endpoints').select('livemode').where('id', '=', id).where('merchant_id', '=', merchantId).where('deleted', '=', false).executeTakeFirst();
  return row?.livemode;
}

export async function listWebhookEndpoints(db: Db, tenant: Tenant, params: ListParams): Promise<Page<WebhookEndpointRow>> {
  const query = db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where('deleted', '=', false);
  return await paginate({
    query,
    table: 'webhook_endpoints',
    params,
    findCursor: (id) => db.selectFrom('webhook_endpoints').select(['created_at', 'id']).where('id', '=', id).where('merchant_id', '=', tenant.merchantId).executeTakeFirst(),
  });
}

/** The secrets that sign right now: the current one and any rolled one still inside its overlap window, newest first. */
export async function liveSecrets(db: Db, endpointId: string, now: Date): Promise<WebhookSecretRow[]> {
  return await db
    .selectFrom('webhook_endpoint_secrets')
    .selectAll()
    .where('endpoint_id', '=', endpointId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .orderBy('created_at', 'desc')
    .execute();
}

/** Whether an endpoint subscribes to an event type (`*` is every type). */
export function subscribes(enabledEvents: readonly string[], type: string): boolean {
  return enabledEvents.includes('*') || enabledEvents.includes(type);
}
