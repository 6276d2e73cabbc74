/** Delivery records (a Fenpay extension): one per event and endpoint, with every attempt. */
import type { Selectable } from 'kysely';
import { unixSeconds, type ListParams, type Page, type Tenant } from '../kernel/index.ts';
import { paginate, type Db, type WebhookDeliveriesTable, type WebhookDeliveryAttemptsTable } from '../db/index.ts';

export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type WebhookAttemptRow = Selectable<WebhookDeliveryAttemptsTable>;

export function serializeWebhookDelivery(row: WebhookDeliveryRow & { event_type: string }, attempts: readonly WebhookAttemptRow[] | undefined): Record<string, unknown> {
  return {
    id: row.id,
    object: 'webhook_delivery',
    created: unixSeconds(row.created_at),
    event: row.event_id,
    event_type: row.event_type,
    livemode: row.livemode,
    status: row.status,
    webhook_endpoint: row.endpoint_id,
    attempt_count: row.attempt_count,
    next_attempt: row.status === 'pending' && row.next_attempt_at !== null ? unixSeconds(row.next_attempt_at) : null,
    last_http_status: row.last_http_status,
    last_error: row.last_error,
    finished: row.finished_at === null ? null : unixSeconds(row.finished_at),
    ...(attempts === undefined
      ? {}
      : {
          attempts: attempts.map((a) => ({
            attempt: a.attempt_no,
            manual: a.manual,
            started: unixSeconds(a.started_at),
            started_at_ms: a.started_at.getTime(),
            duration_ms: a.duration_ms,
            http_status: a.http_status,
            error: a.error,
            response_snippet: a.response_snippet,
          })),
        }),
  };
}

export async function getWebhookDelivery(db: Db, tenant: Tenant, id: string): Promise<Record<string, unknown> | undefined> {
  const row = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .selectAll('d')
    .select('e.type as event_type')
    .where('d.id', '=', id)
    .where('d.merchant_id', '=', tenant.merchantId)
    .where('d.livemode', '=', tenant.livemode)
    .executeTakeFirst();
  if (!row) return undefined;
  const attempts = await db.selectFrom('webhook_delivery_attempts').selectAll().where('delivery_id', '=', id).orderBy('attempt_no').execute();
  return serializeWebhookDelivery(row, attempts);
}

export async function listWebhookDeliveries(
  db: Db,
  tenant: Tenant,
  params: ListParams & { endpointId?: string | undefined; eventId?: string | undefined; status?: string | undefined },
): Promise<Page<Record<string, unknown>>> {
  let query = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .selectAll('d')
    .select('e.type as event_type')
    .where('d.merchant_id', '=', tenant.merchantId)
    .where('d.livemode', '=', tenant.livemode);
  if (params.endpointId !== undefined) query = query.where('d.endpoint_id', '=', params.endpointId);
  if (params.eventId !== undefined) query = query.where('d.event_id', '=', params.eventId);
  if (params.status !== undefined) query = query.where('d.status', '=', params.status as WebhookDeliveryRow['status']);
  const page = await paginate({
    query,
    table: 'd',
    params,
    findCursor: (id) => db.selectFrom('webhook_deliveries').select(['created_at', 'id']).where('id', '=', id).where('merchant_id', '=', tenant.merchantId).executeTakeFirst(),
  });
  const ids = page.data.map((row) => row.id);
  const attempts = ids.length === 0 ? [] : await db.selectFrom('webhook_delivery_attempts').selectAll().where('delivery_id', 'in', ids).orderBy('attempt_no').execute();
  return { data: page.data.map((row) => serializeWebhookDelivery(row, attempts.filter((a) => a.delivery_id === row.id))), hasMore: page.hasMore };
}
