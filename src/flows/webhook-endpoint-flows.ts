/**
 * WebhookEndpoints: create, update (incl. enable/disable), delete, and roll the signing secret with an
 * overlap window. Secrets are sealed by the vault; the plaintext leaves only in the create and roll
 * responses.
 */
import { AppError, applyMetadata, newId, Secret, type MetadataPatch, type Tenant } from '../kernel/index.ts';
import { apiVersion, eventTypes } from '../events/index.ts';
import {
  checkWebhookUrl,
  getWebhookEndpoint,
  newWebhookSecret,
  serializeWebhookEndpoint,
  type WebhookEndpointRow,
} from '../webhooks/index.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import type { Vault } from '../vault/index.ts';
import { commit, retryOnConflict, type RequestContext, type Services } from './services.ts';

export interface WebhookEndpointFields {
  readonly url?: string | undefined;
  readonly enabledEvents?: readonly string[] | undefined;
  readonly description?: string | null | undefined;
  readonly metadata?: MetadataPatch | undefined;
  /** Update only: true disables, false enables (and forgets the failure streak). */
  readonly disabled?: boolean | undefined;
}

/** Event types an endpoint can subscribe to; `*` is all of them, including ones added later. */
export const subscribableEventTypes: readonly string[] = ['*', ...eventTypes];

/** How long a rolled secret keeps signing, unless the request says otherwise (Stripe's dashboard offers up to 24 h). */
export const defaultSecretOverlapSeconds = 24 * 3600;
export const secretOverlapSecondsMax = 7 * 24 * 3600;

const secretPurpose = 'webhook_secret';

export function privateTargetsAllowed(config: Config, livemode: boolean): boolean {
  return config.webhooks.privateTargets === 'always' || (config.webhooks.privateTargets === 'test' && !livemode);
}

async function checkedUrl(services: Services, tenant: Tenant, url: string): Promise<string> {
  const verdict = await checkWebhookUrl(url, { livemode: tenant.livemode, allowPrivate: privateTargetsAllowed(services.config, tenant.livemode) });
  if (!verdict.ok) throw new AppError('webhook_url_not_allowed', { param: 'url', message: verdict.reason });
  return verdict.url.toString();
}

function checkedEvents(events: readonly string[]): string[] {
  if (events.length === 0) throw new AppError('parameter_invalid_empty', { param: 'enabled_events', message: 'enabled_events must name at least one event type, or *.' });
  events.forEach((type, i) => {
    if (!subscribableEventTypes.includes(type)) throw new AppError('parameter_invalid', { param: `enabled_events[${i}]`, message: `Invalid enabled_events[${i}]: "${type}" is not an event type Fenpay sends.` });
  });
  if (events.includes('*') && events.length > 1) throw new AppError('parameter_invalid', { param: 'enabled_events', message: 'enabled_events cannot combine * with specific types.' });
  return [...new Set(events)];
}

function secretRow(services: Services, endpoint: { id: string; merchant_id: string }, secret: string, now: Date): Record<string, unknown> {
  const id = newId('webhookSecret');
  return {
    id,
    endpoint_id: endpoint.id,
    merchant_id: endpoint.merchant_id,
    sealed: services.vault.sealValue(new Secret(secret), { purpose: secretPurpose, ownerId: id, merchantId: endpoint.merchant_id }),
    created_at: now,
    expires_at: null,
  };
}

/** Opens the signing secrets of an endpoint (the delivery path). */
export function openWebhookSecret(services: Services, row: { id: string; merchant_id: string; sealed: string }): string {
  return services.vault.openValue(row.sealed, { purpose: secretPurpose, ownerId: row.id, merchantId: row.merchant_id }).reveal();
}

export async function createWebhookEndpoint(services: Services, ctx: RequestContext, fields: WebhookEndpointFields & { url: string; enabledEvents: readonly string[] }): Promise<Record<string, unknown>> {
  const now = services.now();
  const url = await checkedUrl(services, ctx.tenant, fields.url);
  const row: WebhookEndpointRow = {
    id: newId('webhookEndpoint'),
    merchant_id: ctx.tenant.merchantId,
    livemode: ctx.tenant.livemode,
    url,
    description: fields.description ?? null,
    enabled_events: checkedEvents(fields.enabledEvents),
    metadata: applyMetadata({}, fields.metadata),
    api_version: apiVersion,
    status: 'enabled',
    disabled_reason: null,
    failing_since: null,
    deleted: false,
    version: 1,
    created_at: now,
  };
  const secret = newWebhookSecret();
  // Stripe shows the secret once, in this response; an idempotent retry replays this response, secret included.
  const body = serializeWebhookEndpoint(row, secret);
  const scope = ctx.idempotency;
  await commit(
    services,
    ctx,
    {
      inserts: [
        { table: 'webhook_endpoints', row: { ...row } },
        { table: 'webhook_endpoint_secrets', row: secretRow(services, row, secret, now) },
      ],
      updates: scope ? [scope.complete({ status: 200, body })] : [],
    },
    { resourceId: row.id },
  );
  if (scope) scope.completed = true;
  return body;
}

async function existing(services: Services, tenant: Tenant, id: string): Promise<WebhookEndpointRow> {
  const row = await getWebhookEndpoint(services.db, tenant, id);
  if (!row) throw new AppError('resource_missing', { param: 'id', message: `No such webhook endpoint: '${id}'` });
  return row;
}

export async function updateWebhookEndpoint(services: Services, ctx: RequestContext, id: string, fields: WebhookEndpointFields): Promise<Record<string, unknown>> {
  const url = fields.url === undefined ? undefined : await checkedUrl(services, ctx.tenant, fields.url);
  const enabledEvents = fields.enabledEvents === undefined ? undefined : checkedEvents(fields.enabledEvents);
  return await retryOnConflict(async () => {
    const current = await existing(services, ctx.tenant, id);
    let status = current.status;
    let disabledReason = current.disabled_reason;
    let failingSince = current.failing_since;
    if (fields.disabled === true && current.status === 'enabled') {
      status = 'disabled';
      disabledReason = 'disabled by the merchant';
    } else if (fields.disabled === false && current.status === 'disabled') {
      status = 'enabled';
      disabledReason = null;
      failingSince = null;
    }
    const next: WebhookEndpointRow = {
      ...current,
      url: url ?? current.url,
      enabled_events: enabledEvents ?? current.enabled_events,
      description: fields.description === undefined ? current.description : fields.description,
      metadata: applyMetadata(current.metadata, fields.metadata),
      status,
      disabled_reason: disabledReason,
      failing_since: failingSince,
      version: current.version + 1,
    };
    const body = serializeWebhookEndpoint(next);
    const scope = ctx.idempotency;
    await commit(
      services,
      ctx,
      {
        guards: [{ table: 'webhook_endpoints', id, version: current.version }],
        updates: [
          {
            table: 'webhook_endpoints',
            key: { id },
            set: {
              url: next.url,
              enabled_events: next.enabled_events,
              description: next.description,
              metadata: next.metadata,
              status: next.status,
              disabled_reason: next.disabled_reason,
              failing_since: next.failing_since,
              version: next.version,
            },
          },
          ...(scope ? [scope.complete({ status: 200, body })] : []),
        ],
      },
      { resourceId: id },
    );
    if (scope) scope.completed = true;
    return body;
  });
}

export async function deleteWebhookEndpoint(services: Services, ctx: RequestContext, id: string): Promise<Record<string, unknown>> {
  return await retryOnConflict(async () => {
    const current = await existing(services, ctx.tenant, id);
    const body = { id, object: 'webhook_endpoint', deleted: true };
    const scope = ctx.idempotency;
    // Deliveries still pending for it fail when their next attempt finds the endpoint gone.
    await commit(
      services,
      ctx,
      {
        guards: [{ table: 'webhook_endpoints', id, version: current.version }],
        updates: [
          { table: 'webhook_endpoints', key: { id }, set: { deleted: true, status: 'disabled', disabled_reason: 'deleted', version: current.version + 1 } },
          ...(scope ? [scope.complete({ status: 200, body })] : []),
        ],
      },
      { resourceId: id },
    );
    if (scope) scope.completed = true;
    return body;
  });
}

/**
 * A new signing secret. The current one keeps signing for `overlapSeconds` (both `v1=` signatures are
 * sent meanwhile), so the merchant can deploy the new secret without dropping a webhook.
 */
export async function rollWebhookSecret(services: Services, ctx: RequestContext, id: string, overlapSeconds: number): Promise<Record<string, unknown>> {
  return await retryOnConflict(async () => {
    const current = await existing(services, ctx.tenant, id);
    const now = services.now();
    const expiresAt = new Date(now.getTime() + overlapSeconds * 1000);
    const currentSecrets = await services.db
      .selectFrom('webhook_endpoint_secrets')
      .select(['id', 'expires_at'])
      .where('endpoint_id', '=', id)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', expiresAt)]))
      .execute();
    const secret = newWebhookSecret();
    const next = { ...current, version: current.version + 1 };
    const body = serializeWebhookEndpoint(next, secret);
    const scope = ctx.idempotency;
    await commit(
      services,
      ctx,
      {
        // The version guard serializes concurrent rolls: each sees the secrets the previous one left.
        guards: [{ table: 'webhook_endpoints', id, version: current.version }],
        inserts: [{ table: 'webhook_endpoint_secrets', row: secretRow(services, current, secret, now) }],
        updates: [
          { table: 'webhook_endpoints', key: { id }, set: { version: next.version } },
          ...currentSecrets.map((s) => ({ table: 'webhook_endpoint_secrets' as const, key: { id: s.id }, set: { expires_at: expiresAt } })),
          ...(scope ? [scope.complete({ status: 200, body })] : []),
        ],
      },
      { resourceId: id },
    );
    if (scope) scope.completed = true;
    return body;
  });
}

/** Reseals webhook secrets still under an older vault key (part of `vault:rotate`). */
export async function resealWebhookSecrets(db: Db, vault: Vault): Promise<number> {
  let moved = 0;
  const rows = await db.selectFrom('webhook_endpoint_secrets').select(['id', 'merchant_id', 'sealed']).execute();
  for (const row of rows) {
    if (!vault.needsReseal(row.sealed)) continue;
    const binding = { purpose: secretPurpose, ownerId: row.id, merchantId: row.merchant_id };
    const sealed = vault.sealValue(vault.openValue(row.sealed, binding), binding);
    const result = await db.updateTable('webhook_endpoint_secrets').set({ sealed }).where('id', '=', row.id).where('sealed', '=', row.sealed).executeTakeFirst();
    moved += Number(result.numUpdatedRows);
  }
  return moved;
}
