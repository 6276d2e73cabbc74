/**
 * Webhook dispatch and delivery.
 *
 * Dispatch reads the events outbox in commit order (by writing transaction id, see migration 0005),
 * creates one delivery per subscribed endpoint and enqueues its job in the same transaction that
 * advances the cursor: an event is fanned out once, and a delivery never exists without its job.
 *
 * Delivery is a graphile-worker job per attempt, in three steps like a payment: claim the delivery
 * under a lease (one attempt in flight per delivery, at most N per endpoint), POST it signed, record
 * the attempt and either finish or schedule the next try. A worker that dies mid-attempt leaves a lease
 * that runs out; the sweeper enqueues the delivery again and the lost attempt is recorded as unknown.
 * Receivers may therefore see an event more than once (at-least-once, stable event ids), never zero times.
 */
import { sql } from 'kysely';
import { AppError, newId, type Tenant } from '../kernel/index.ts';
import type { Executor } from '../db/index.ts';
import { eventRow, getEvent } from '../events/index.ts';
import {
  getWebhookDelivery,
  getWebhookEndpoint,
  liveSecrets,
  postWebhook,
  serializeWebhookEndpoint,
  signatureHeader,
  subscribes,
  type WebhookDeliveryRow,
} from '../webhooks/index.ts';
import type { RequestContext, Services } from './services.ts';
import { openWebhookSecret, privateTargetsAllowed } from './webhook-endpoint-flows.ts';
import { readOutbox } from './event-outbox.ts';

/**
 * An attempt's lease is twice its timeout: the POST is aborted at the timeout, so an attempt still
 * leased after that is one whose worker died. A pending delivery whose job has not run one timeout
 * after it was due (or whose lease ran out that long ago) is enqueued again by the sweeper.
 */
const leaseMs = (services: Services) => 2 * services.config.webhooks.timeoutMs;
const overdueAfterMs = (services: Services) => services.config.webhooks.timeoutMs;
/** A throttled or early job tries again after roughly this long. */
const throttleDelayMs = 1_000;

export function deliveryJobKey(deliveryId: string): string {
  return `whdl:${deliveryId}`;
}

/**
 * One dispatch round over up to `limit` new events: the number of events read, or undefined when
 * another process is dispatching.
 */
export async function dispatchWebhookEvents(services: Services, options: { limit: number }): Promise<number | undefined> {
  return await readOutbox(services, 'webhooks', { ...options, withData: false }, async (trx, events) => {
    const merchants = [...new Set(events.map((e) => e.merchant_id))];
    const endpoints = await trx
      .selectFrom('webhook_endpoints')
      .select(['id', 'merchant_id', 'livemode', 'enabled_events', 'created_at'])
      .where('merchant_id', 'in', merchants)
      .where('status', '=', 'enabled')
      .where('deleted', '=', false)
      .execute();
    if (endpoints.length === 0) return;
    const now = services.now();
    const rows = [];
    for (const event of events) {
      for (const endpoint of endpoints) {
        if (endpoint.merchant_id !== event.merchant_id || endpoint.livemode !== event.livemode) continue;
        // Like Stripe, an endpoint receives events that happen after it was created.
        if (endpoint.created_at > event.created_at || !subscribes(endpoint.enabled_events, event.type)) continue;
        rows.push({
          id: newId('webhookDelivery'),
          merchant_id: event.merchant_id,
          livemode: event.livemode,
          event_id: event.id,
          endpoint_id: endpoint.id,
          status: 'pending' as const,
          next_attempt_at: now,
          created_at: now,
        });
      }
    }
    if (rows.length === 0) return;
    const created = await trx.insertInto('webhook_deliveries').values(rows).onConflict((oc) => oc.columns(['event_id', 'endpoint_id']).doNothing()).returning('id').execute();
    await services.enqueueInTransaction(trx, created.map((d) => ({ task: 'deliver_webhook', payload: { deliveryId: d.id }, jobKey: deliveryJobKey(d.id) })));
  });
}

type ClaimResult =
  | { readonly kind: 'claimed'; readonly delivery: WebhookDeliveryRow; readonly url: string; readonly attemptNo: number; readonly startedAt: Date; readonly wasPending: boolean }
  | { readonly kind: 'skipped'; readonly reason: string };

async function claimDelivery(services: Services, deliveryId: string, manual: boolean): Promise<ClaimResult> {
  const { config } = services;
  return await services.db.transaction().execute(async (trx): Promise<ClaimResult> => {
    const delivery = await trx.selectFrom('webhook_deliveries').selectAll().where('id', '=', deliveryId).forUpdate().executeTakeFirst();
    if (!delivery) return { kind: 'skipped', reason: 'no such delivery' };
    const now = services.now();
    const endpoint = await trx.selectFrom('webhook_endpoints').select(['url', 'status', 'deleted']).where('id', '=', delivery.endpoint_id).executeTakeFirstOrThrow();
    if (endpoint.deleted || endpoint.status !== 'enabled') {
      if (delivery.status === 'pending') {
        await trx
          .updateTable('webhook_deliveries')
          .set({ status: 'failed', finished_at: now, leased_until: null, last_error: endpoint.deleted ? 'endpoint deleted' : 'endpoint disabled' })
          .where('id', '=', deliveryId)
          .execute();
      }
      return { kind: 'skipped', reason: 'endpoint not enabled' };
    }
    if (delivery.leased_until !== null && delivery.leased_until > now) return { kind: 'skipped', reason: 'an attempt is in flight' };
    if (!manual) {
      if (delivery.status !== 'pending') return { kind: 'skipped', reason: `delivery ${delivery.status}` };
      if (delivery.next_attempt_at !== null && delivery.next_attempt_at.getTime() > now.getTime() + throttleDelayMs) {
        await services.enqueueInTransaction(trx, [{ task: 'deliver_webhook', payload: { deliveryId }, runAt: delivery.next_attempt_at, jobKey: deliveryJobKey(deliveryId) }]);
        return { kind: 'skipped', reason: 'not due yet' };
      }
    }
    // At most N attempts in flight per endpoint: a transaction-scoped lock makes count-then-lease atomic.
    await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`webhook_endpoint:${delivery.endpoint_id}`}, 0))`.execute(trx);
    const inFlight = await trx
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('endpoint_id', '=', delivery.endpoint_id)
      .where('status', '=', 'pending')
      .where('leased_until', '>', now)
      .executeTakeFirstOrThrow();
    if (Number(inFlight.n) >= config.webhooks.maxConcurrencyPerEndpoint) {
      const runAt = new Date(now.getTime() + throttleDelayMs * (0.5 + Math.random()));
      await services.enqueueInTransaction(trx, [{ task: 'deliver_webhook', payload: manual ? { deliveryId, manual } : { deliveryId }, runAt, jobKey: manual ? undefined : deliveryJobKey(deliveryId) }]);
      return { kind: 'skipped', reason: 'endpoint at its concurrency limit' };
    }
    // A lease that ran out means a worker died mid-attempt: the receiver may or may not have the event.
    if (delivery.leased_until !== null) {
      await trx
        .insertInto('webhook_delivery_attempts')
        .values({
          id: newId('webhookAttempt'),
          delivery_id: deliveryId,
          merchant_id: delivery.merchant_id,
          attempt_no: delivery.attempt_count,
          manual: false,
          started_at: new Date(delivery.leased_until.getTime() - leaseMs(services)),
          duration_ms: 0,
          http_status: null,
          error: 'the worker stopped during this attempt; outcome unknown',
          response_snippet: null,
        })
        .onConflict((oc) => oc.columns(['delivery_id', 'attempt_no']).doNothing())
        .execute();
    }
    const attemptNo = delivery.attempt_count + 1;
    const leasedUntil = new Date(now.getTime() + leaseMs(services));
    await trx.updateTable('webhook_deliveries').set({ attempt_count: attemptNo, leased_until: leasedUntil }).where('id', '=', deliveryId).execute();
    return { kind: 'claimed', delivery: { ...delivery, attempt_count: attemptNo, leased_until: leasedUntil }, url: endpoint.url, attemptNo, startedAt: now, wasPending: delivery.status === 'pending' };
  });
}

/** One attempt of one delivery (the `deliver_webhook` job). */
export async function deliverWebhook(services: Services, deliveryId: string, options: { manual?: boolean } = {}): Promise<string> {
  const manual = options.manual === true;
  const claim = await claimDelivery(services, deliveryId, manual);
  if (claim.kind === 'skipped') return claim.reason;
  const { delivery } = claim;
  const tenant: Tenant = { merchantId: delivery.merchant_id, livemode: delivery.livemode };

  let result: { status: number | undefined; error: string | undefined; snippet: string | undefined; durationMs: number };
  try {
    const event = await getEvent(services.db, tenant, delivery.event_id);
    if (!event) throw new Error(`event ${delivery.event_id} is missing`);
    const secrets = (await liveSecrets(services.db, delivery.endpoint_id, services.now())).map((row) => openWebhookSecret(services, row));
    const payload = JSON.stringify(event, null, 2);
    result = await postWebhook({
      url: claim.url,
      body: payload,
      headers: {
        'stripe-signature': signatureHeader(payload, secrets, Math.floor(services.now().getTime() / 1000)),
        'user-agent': 'Fenpay-Webhooks/1.0 (Stripe-compatible; +https://stripe.com/docs/webhooks)',
        'fenpay-delivery-id': delivery.id,
        'fenpay-attempt': String(claim.attemptNo),
        'cache-control': 'no-cache',
        accept: '*/*; q=0.5, application/json',
      },
      timeoutMs: services.config.webhooks.timeoutMs,
      allowPrivate: privateTargetsAllowed(services.config, delivery.livemode),
    });
  } catch (error) {
    // Could not even build the request (a sealed secret failed to open, …): a failed attempt, retried like any.
    services.logger.error({ err: error, delivery: delivery.id }, 'webhook attempt could not be prepared');
    result = { status: undefined, error: 'Fenpay could not prepare this attempt', snippet: undefined, durationMs: 0 };
  }
  const succeeded = result.error === undefined;
  services.metrics.webhookAttempt({ outcome: succeeded ? 'succeeded' : 'failed' }, result.durationMs);
  await recordAttempt(services, claim, { ...result, succeeded, manual });
  return succeeded ? 'delivered' : `failed: ${result.error ?? ''}`;
}

async function recordAttempt(
  services: Services,
  claim: Extract<ClaimResult, { kind: 'claimed' }>,
  result: { status: number | undefined; error: string | undefined; snippet: string | undefined; durationMs: number; succeeded: boolean; manual: boolean },
): Promise<void> {
  const { delivery } = claim;
  const { webhooks } = services.config;
  await services.db.transaction().execute(async (trx) => {
    const now = services.now();
    await trx
      .insertInto('webhook_delivery_attempts')
      .values({
        id: newId('webhookAttempt'),
        delivery_id: delivery.id,
        merchant_id: delivery.merchant_id,
        attempt_no: claim.attemptNo,
        manual: result.manual,
        started_at: claim.startedAt,
        duration_ms: result.durationMs,
        http_status: result.status ?? null,
        error: result.error ?? null,
        response_snippet: result.snippet ?? null,
      })
      .execute();
    const last = { last_http_status: result.status ?? null, last_error: result.error ?? null, leased_until: null };
    if (result.succeeded) {
      await trx.updateTable('webhook_deliveries').set({ ...last, status: 'succeeded', finished_at: now, next_attempt_at: null }).where('id', '=', delivery.id).execute();
      await trx.updateTable('webhook_endpoints').set({ failing_since: null }).where('id', '=', delivery.endpoint_id).where('failing_since', 'is not', null).execute();
      return;
    }
    // Automatic attempts follow the schedule; a manual one on a finished delivery leaves it finished.
    const current = await trx.selectFrom('webhook_deliveries').select(['status', 'created_at']).where('id', '=', delivery.id).executeTakeFirstOrThrow();
    if (current.status === 'pending') {
      const automaticAttempts = await trx.selectFrom('webhook_delivery_attempts').select((eb) => eb.fn.countAll<string>().as('n')).where('delivery_id', '=', delivery.id).where('manual', '=', false).executeTakeFirstOrThrow();
      const index = Math.min(Math.max(Number(automaticAttempts.n) - 1, 0), webhooks.retryScheduleMs.length - 1);
      const nextAt = new Date(now.getTime() + webhooks.retryScheduleMs[index]!);
      if (nextAt.getTime() - current.created_at.getTime() > webhooks.retryWindowMs) {
        await trx.updateTable('webhook_deliveries').set({ ...last, status: 'failed', finished_at: now, next_attempt_at: null }).where('id', '=', delivery.id).execute();
        services.logger.warn({ delivery: delivery.id, endpoint: delivery.endpoint_id, event: delivery.event_id }, 'webhook delivery given up after its retry window');
      } else {
        await trx.updateTable('webhook_deliveries').set({ ...last, next_attempt_at: nextAt }).where('id', '=', delivery.id).execute();
        await services.enqueueInTransaction(trx, [{ task: 'deliver_webhook', payload: { deliveryId: delivery.id }, runAt: nextAt, jobKey: deliveryJobKey(delivery.id) }]);
      }
    } else {
      await trx.updateTable('webhook_deliveries').set(last).where('id', '=', delivery.id).execute();
    }
    await noteEndpointFailure(services, trx, delivery.endpoint_id, now);
  });
}

/** The first failure after a success starts a streak; a streak longer than the limit disables the endpoint and tells the merchant. */
async function noteEndpointFailure(services: Services, trx: Executor, endpointId: string, now: Date): Promise<void> {
  await trx.updateTable('webhook_endpoints').set({ failing_since: now }).where('id', '=', endpointId).where('failing_since', 'is', null).execute();
  const disableBefore = new Date(now.getTime() - services.config.webhooks.disableAfterMs);
  const disabled = await trx
    .updateTable('webhook_endpoints')
    .set((eb) => ({ status: 'disabled', disabled_reason: 'every delivery attempt failed for too long', version: eb('version', '+', 1) }))
    .where('id', '=', endpointId)
    .where('status', '=', 'enabled')
    .where('failing_since', '<=', disableBefore)
    .returningAll()
    .executeTakeFirst();
  if (!disabled) return;
  services.logger.warn({ endpoint: endpointId, merchant: disabled.merchant_id, url: disabled.url }, 'webhook endpoint disabled after failing continuously');
  const tenant = { merchantId: disabled.merchant_id, livemode: disabled.livemode };
  const event = eventRow({ tenant, type: 'webhook_endpoint.disabled', object: serializeWebhookEndpoint(disabled) as { id: string }, previousAttributes: { status: 'enabled' }, requestId: undefined, idempotencyKey: undefined, at: now });
  await trx.insertInto('events').values(event.row as never).execute();
}

/**
 * Sends an event to an endpoint again, now (Stripe CLI's `events resend`, the dashboard's "Resend").
 * Works for any event of the merchant, delivered or not, and for an endpoint that never had it.
 */
export async function redeliverEvent(services: Services, ctx: RequestContext, eventId: string, endpointId: string): Promise<Record<string, unknown>> {
  const event = await getEvent(services.db, ctx.tenant, eventId);
  if (!event) throw new AppError('resource_missing', { param: 'id', message: `No such event: '${eventId}'` });
  const endpoint = await getWebhookEndpoint(services.db, ctx.tenant, endpointId);
  if (!endpoint) throw new AppError('resource_missing', { param: 'webhook_endpoint', message: `No such webhook endpoint: '${endpointId}'` });
  if (endpoint.status !== 'enabled') throw new AppError('webhook_endpoint_disabled', { param: 'webhook_endpoint', message: `The webhook endpoint ${endpointId} is disabled; enable it first.` });
  const now = services.now();
  const deliveryId = await services.db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('webhook_deliveries')
      .values({ id: newId('webhookDelivery'), merchant_id: ctx.tenant.merchantId, livemode: ctx.tenant.livemode, event_id: eventId, endpoint_id: endpointId, status: 'pending', next_attempt_at: now, created_at: now })
      .onConflict((oc) => oc.columns(['event_id', 'endpoint_id']).doNothing())
      .returning('id')
      .executeTakeFirst();
    const id =
      inserted?.id ?? (await trx.selectFrom('webhook_deliveries').select('id').where('event_id', '=', eventId).where('endpoint_id', '=', endpointId).executeTakeFirstOrThrow()).id;
    await services.enqueueInTransaction(trx, [{ task: 'deliver_webhook', payload: { deliveryId: id, manual: true } }]);
    return id;
  });
  const delivery = await getWebhookDelivery(services.db, ctx.tenant, deliveryId);
  return delivery ?? {};
}

/** Pending deliveries whose job should have run a while ago, or whose attempt's lease ran out (the sweeper re-enqueues them). */
export async function requeueOverdueDeliveries(services: Services, options: { limit: number }): Promise<number> {
  const before = new Date(services.now().getTime() - overdueAfterMs(services));
  const rows = await services.db
    .selectFrom('webhook_deliveries')
    .select('id')
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<', before)
    .where((eb) => eb.or([eb('leased_until', 'is', null), eb('leased_until', '<', before)]))
    .limit(options.limit)
    .execute();
  if (rows.length === 0) return 0;
  await services.db.transaction().execute(async (trx) => {
    await services.enqueueInTransaction(trx, rows.map((r) => ({ task: 'deliver_webhook', payload: { deliveryId: r.id }, jobKey: deliveryJobKey(r.id) })));
  });
  return rows.length;
}

