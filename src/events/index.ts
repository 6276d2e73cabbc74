/**
 * Events: Stripe-shaped records of every state change, written in the same database transaction as
 * the change (a transactional outbox). Each carries the object as it was at that moment.
 */
import { sql } from 'kysely';
import { newId, unixSeconds, type ListParams, type Page, type Tenant } from '../kernel/index.ts';
import { paginate, type Db, type Row } from '../db/index.ts';

/** Deliveries of an event still pending (webhook_deliveries belongs to the webhooks room; events only count them). */
const pendingWebhooks = sql<string>`(SELECT count(*) FROM webhook_deliveries d WHERE d.event_id = events.id AND d.status = 'pending')`.as('pending_webhooks');

export const apiVersion = '2026-07-29.dahlia';

export const eventTypes = [
  'payment_intent.created',
  'payment_intent.processing',
  'payment_intent.requires_action',
  'payment_intent.amount_capturable_updated',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'charge.succeeded',
  'charge.captured',
  'charge.refunded',
  'refund.created',
  'refund.updated',
  'refund.failed',
  'customer.created',
  'customer.updated',
  'customer.deleted',
  'payment_method.attached',
  'payment_method.detached',
  'checkout.session.completed',
  'checkout.session.expired',
  // Fenpay extension: an endpoint that kept failing was disabled (sent to the merchant's other endpoints).
  'webhook_endpoint.disabled',
] as const;
export type EventType = (typeof eventTypes)[number];

export interface EventInput {
  readonly tenant: Tenant;
  readonly type: EventType;
  readonly object: { readonly id: string } & Record<string, unknown>;
  readonly previousAttributes?: Record<string, unknown> | undefined;
  readonly requestId: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly at: Date;
}

/** The `events` row to put in the same WriteSet as the change it reports. */
export function eventRow(input: EventInput): { table: 'events'; row: Row } {
  const data: Record<string, unknown> = { object: input.object };
  if (input.previousAttributes) data.previous_attributes = input.previousAttributes;
  return {
    table: 'events',
    row: {
      id: newId('event'),
      merchant_id: input.tenant.merchantId,
      livemode: input.tenant.livemode,
      type: input.type,
      object_id: input.object.id,
      data,
      request_id: input.requestId ?? null,
      idempotency_key: input.idempotencyKey ?? null,
      created_at: input.at,
    },
  };
}

interface EventRecord {
  id: string;
  livemode: boolean;
  type: string;
  data: unknown;
  request_id: string | null;
  idempotency_key: string | null;
  created_at: Date;
  /** Deliveries of this event not yet accepted by an endpoint. */
  pending_webhooks?: number | string | bigint | null;
}

export function serializeEvent(row: EventRecord): Record<string, unknown> {
  return {
    id: row.id,
    object: 'event',
    api_version: apiVersion,
    created: unixSeconds(row.created_at),
    data: row.data,
    livemode: row.livemode,
    pending_webhooks: Number(row.pending_webhooks ?? 0),
    request: { id: row.request_id, idempotency_key: row.idempotency_key },
    type: row.type,
  };
}

export async function getEvent(db: Db, tenant: Tenant, id: string): Promise<Record<string, unknown> | undefined> {
  const row = await db
    .selectFrom('events')
    .selectAll()
    .select(pendingWebhooks)
    .where('id', '=', id)
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .executeTakeFirst();
  return row ? serializeEvent(row) : undefined;
}

export async function listEvents(
  db: Db,
  tenant: Tenant,
  params: ListParams & { types?: readonly string[] | undefined; objectId?: string | undefined; deliverySuccess?: boolean | undefined },
): Promise<Page<Record<string, unknown>>> {
  let query = db
    .selectFrom('events')
    .selectAll()
    .select(pendingWebhooks)
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode);
  if (params.types && params.types.length > 0) {
    const exact = params.types.filter((t) => !t.includes('*'));
    const prefixes = params.types.filter((t) => t.endsWith('.*')).map((t) => t.slice(0, -1));
    query = query.where((eb) => eb.or([
      ...(exact.length > 0 ? [eb('type', 'in', exact)] : []),
      ...prefixes.map((p) => eb('type', 'like', `${p.replaceAll('%', '\\%').replaceAll('_', '\\_')}%`)),
    ]));
  }
  if (params.objectId) query = query.where('object_id', '=', params.objectId);
  // Stripe: false lists events still pending or not accepted by some endpoint; true, events every endpoint accepted.
  if (params.deliverySuccess === false) {
    query = query.where(sql<boolean>`EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id AND d.status <> 'succeeded')`);
  } else if (params.deliverySuccess === true) {
    query = query.where(sql<boolean>`EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)`).where(sql<boolean>`NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id AND d.status <> 'succeeded')`);
  }
  const page = await paginate({
    query,
    table: 'events',
    params,
    findCursor: (id) => db.selectFrom('events').select(['created_at', 'id']).where('id', '=', id).where('merchant_id', '=', tenant.merchantId).executeTakeFirst(),
  });
  return { data: page.data.map(serializeEvent), hasMore: page.hasMore };
}
