/**
 * Merchant webhooks end to end: endpoints through the official Stripe SDK, events delivered signed so
 * that `stripe.webhooks.constructEvent` accepts them, retries with recorded attempts, secret rotation,
 * redelivery, the delivery_success filter, redirects and timeouts, and 1,000 events under load with
 * none lost (counted at the receiver).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { startTestFenpay, type TestFenpay, type TestMerchant } from './support/fenpay.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';
import { stripeError } from './support/stripe-error.ts';
import { until } from './support/until.ts';

const verifier = new Stripe('sk_test_unused');

interface Delivery {
  id: string;
  status: string;
  event: string;
  webhook_endpoint: string;
  attempt_count: number;
  attempts: { attempt: number; manual: boolean; http_status: number | null; error: string | null; response_snippet: string | null; duration_ms: number }[];
}

async function api<T>(fenpay: TestFenpay, key: string, method: string, path: string, form?: Record<string, string>): Promise<{ status: number; body: T }> {
  const response = await fetch(`${fenpay.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    ...(form ? { body: new URLSearchParams(form).toString() } : {}),
  });
  return { status: response.status, body: (await response.json()) as T };
}


async function deliveriesOf(fenpay: TestFenpay, shop: TestMerchant, query: string): Promise<Delivery[]> {
  const { body } = await api<{ data: Delivery[] }>(fenpay, shop.secretKey, 'GET', `/v1/webhook_deliveries?limit=100&${query}`);
  return body.data;
}

describe('webhooks', () => {
  let fenpay: TestFenpay;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    fenpay = await startTestFenpay({
      env: {
        WEBHOOK_RETRY_SCHEDULE: '200ms',
        WEBHOOK_RETRY_WINDOW: '1h',
        WEBHOOK_DISPATCH_INTERVAL: '50ms',
        WEBHOOK_TIMEOUT: '1s',
        WORKER_CONCURRENCY: '8',
      },
    });
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await fenpay?.close();
    await receiver?.close();
  });

  it('manages endpoints through the official SDK, showing the secret once', async () => {
    const shop = await fenpay.createMerchant();
    const created = await shop.stripe.webhookEndpoints.create({ url: `${receiver.url}/${shop.merchant.id}`, enabled_events: ['payment_intent.succeeded', 'charge.refunded'], description: 'orders', metadata: { team: 'ops' } });
    expect(created.id).toMatch(/^we_/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
    expect(created).toMatchObject({ object: 'webhook_endpoint', status: 'enabled', url: `${receiver.url}/${shop.merchant.id}`, livemode: false, description: 'orders', metadata: { team: 'ops' } });

    const fetched = await shop.stripe.webhookEndpoints.retrieve(created.id);
    expect(fetched.secret).toBeUndefined();
    expect(fetched.enabled_events).toEqual(['payment_intent.succeeded', 'charge.refunded']);

    const updated = await shop.stripe.webhookEndpoints.update(created.id, { enabled_events: ['*'], disabled: true });
    expect(updated).toMatchObject({ enabled_events: ['*'], status: 'disabled' });
    expect((await shop.stripe.webhookEndpoints.update(created.id, { disabled: false })).status).toBe('enabled');

    const list = await shop.stripe.webhookEndpoints.list({ limit: 10 });
    expect(list.data.map((e) => e.id)).toEqual([created.id]);

    // Another merchant cannot see it; a bad event type and a bad URL are 400s that change nothing.
    const other = await fenpay.createMerchant();
    expect((await stripeError(other.stripe.webhookEndpoints.retrieve(created.id))).statusCode).toBe(404);
    const badType = await stripeError(shop.stripe.webhookEndpoints.create({ url: `${receiver.url}/${shop.merchant.id}`, enabled_events: ['payment_intent.succeeded', 'payment_intent.exploded' as 'payment_intent.succeeded'] }));
    expect(badType).toMatchObject({ statusCode: 400, param: 'enabled_events[1]' });
    const badUrl = await stripeError(shop.stripe.webhookEndpoints.create({ url: 'ftp://example.com/hook', enabled_events: ['*'] }));
    expect(badUrl).toMatchObject({ statusCode: 400, param: 'url', code: 'webhook_url_not_allowed' });
    expect((await shop.stripe.webhookEndpoints.list()).data).toHaveLength(1);

    const deleted = await shop.stripe.webhookEndpoints.del(created.id);
    expect(deleted).toMatchObject({ id: created.id, deleted: true });
    expect((await stripeError(shop.stripe.webhookEndpoints.retrieve(created.id))).statusCode).toBe(404);
  });

  it('delivers the events of a payment, signed so constructEvent accepts them, only the subscribed types', async () => {
    const shop = await fenpay.createMerchant();
    const endpoint = await shop.stripe.webhookEndpoints.create({ url: `${receiver.url}/${shop.merchant.id}`, enabled_events: ['payment_intent.created', 'payment_intent.succeeded', 'charge.refunded', 'refund.created'] });
    const intent = await shop.stripe.paymentIntents.create({ amount: 2500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    await shop.stripe.refunds.create({ payment_intent: intent.id, amount: 500 });

    const mine = () => receiver.received.filter((h) => h.body.includes(intent.id));
    await receiver.waitFor(() => new Set(mine().map((h) => h.eventType)).size === 4);
    const types = mine().map((h) => h.eventType).sort();
    expect(types).toEqual(['charge.refunded', 'payment_intent.created', 'payment_intent.succeeded', 'refund.created']);

    for (const hook of mine()) {
      const event = verifier.webhooks.constructEvent(hook.body, hook.signature, endpoint.secret!);
      expect(event.livemode).toBe(false);
      expect(event.api_version).toBeTruthy();
      // The event is the one the API lists, and carries the object as it was then.
      const listed = await shop.stripe.events.retrieve(event.id);
      expect(listed.type).toBe(event.type);
      if (event.type === 'payment_intent.created') expect((event.data.object).status).toBe('requires_confirmation');
      if (event.type === 'payment_intent.succeeded') expect((event.data.object).amount_received).toBe(2500);
      // A tampered body or a wrong secret is refused by the SDK.
      expect(() => verifier.webhooks.constructEvent(hook.body.replace('"livemode": false', '"livemode": true'), hook.signature, endpoint.secret!)).toThrow();
      expect(() => verifier.webhooks.constructEvent(hook.body, hook.signature, 'whsec_wrong')).toThrow();
    }
    // Unsubscribed types (charge.succeeded) were not sent.
    expect(mine().some((h) => h.eventType === 'charge.succeeded')).toBe(false);
  });

  it('retries a failing receiver: N failures recorded, then exactly one accepted delivery', async () => {
    const shop = await fenpay.createMerchant();
    const failures = 3;
    const counts = new Map<string, number>();
    receiver.answer = (hook) => {
      const n = (counts.get(hook.eventId) ?? 0) + 1;
      counts.set(hook.eventId, n);
      if (!hook.path.endsWith(shop.merchant.id)) return { status: 200 };
      return n <= failures ? { status: 500, body: 'try later' } : { status: 200 };
    };
    try {
      await shop.stripe.webhookEndpoints.create({ url: `${receiver.url}/${shop.merchant.id}`, enabled_events: ['customer.created'] });
      const customer = await shop.stripe.customers.create({ email: 'retry@example.com' });
      const accepted = () => receiver.received.filter((h) => h.body.includes(customer.id) && h.status === 200);
      await receiver.waitFor(() => accepted().length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // nothing more may arrive
      const all = receiver.received.filter((h) => h.body.includes(customer.id));
      expect(accepted()).toHaveLength(1);
      expect(all).toHaveLength(failures + 1);
      expect(new Set(all.map((h) => h.eventId)).size).toBe(1); // the same event id every time

      const [delivery] = await deliveriesOf(fenpay, shop, '');
      expect(delivery).toMatchObject({ status: 'succeeded', attempt_count: failures + 1 });
      expect(delivery!.attempts.map((a) => a.http_status)).toEqual([500, 500, 500, 200]);
      expect(delivery!.attempts[0]).toMatchObject({ error: 'HTTP 500', response_snippet: 'try later', manual: false });
      expect(delivery!.attempts.every((a) => a.duration_ms >= 0)).toBe(true);
      // Once accepted, the event is no longer listed as undelivered.
      const undelivered = await api<{ data: { id: string }[] }>(fenpay, shop.secretKey, 'GET', '/v1/events?delivery_success=false');
      expect(undelivered.body.data).toEqual([]);
      const delivered = await api<{ data: { id: string; pending_webhooks: number }[] }>(fenpay, shop.secretKey, 'GET', '/v1/events?delivery_success=true');
      expect(delivered.body.data.map((e) => e.id)).toEqual([all[0]!.eventId]);
      expect(delivered.body.data[0]!.pending_webhooks).toBe(0);
    } finally {
      receiver.answer = () => ({ status: 200 });
    }
  });

  it('lists events not yet delivered, and redelivers one on request', async () => {
    const shop = await fenpay.createMerchant();
    let down = true;
    receiver.answer = (hook) => (hook.path.endsWith(shop.merchant.id) && down ? { status: 503 } : { status: 200 });
    try {
      const endpoint = await shop.stripe.webhookEndpoints.create({ url: `${receiver.url}/${shop.merchant.id}`, enabled_events: ['customer.created'] });
      const customer = await shop.stripe.customers.create({ name: 'Pending' });
      await receiver.waitFor(() => receiver.received.filter((h) => h.body.includes(customer.id)).length >= 2);
      const undelivered = await api<{ data: { id: string; pending_webhooks: number }[] }>(fenpay, shop.secretKey, 'GET', '/v1/events?delivery_success=false');
      expect(undelivered.body.data).toHaveLength(1);
      expect(undelivered.body.data[0]!.pending_webhooks).toBe(1);
      const eventId = undelivered.body.data[0]!.id;

      down = false;
      const redelivery = await api<Delivery>(fenpay, shop.secretKey, 'POST', `/v1/events/${eventId}/retry`, { webhook_endpoint: endpoint.id });
      expect(redelivery.status).toBe(200);
      expect(redelivery.body.event).toBe(eventId);
      const delivery = await until('the redelivery to succeed', async () => {
        const [d] = await deliveriesOf(fenpay, shop, `event=${eventId}`);
        return d?.status === 'succeeded' ? d : undefined;
      });
      expect(delivery.attempts.some((a) => a.manual && a.http_status === 200)).toBe(true);

      // A delivered event can be sent again too: the receiver sees the same event id once more.
      const before = receiver.received.filter((h) => h.eventId === eventId && h.status === 200).length;
      await api(fenpay, shop.secretKey, 'POST', `/v1/events/${eventId}/retry`, { webhook_endpoint: endpoint.id });
      await receiver.waitFor(() => receiver.received.filter((h) => h.eventId === eventId && h.status === 200).length === before + 1);

      // Bad requests change nothing.
      expect((await api(fenpay, shop.secretKey, 'POST', `/v1/events/evt_missing/retry`, { webhook_endpoint: endpoint.id })).status).toBe(404);
      expect((await api(fenpay, shop.secretKey, 'POST', `/v1/events/${eventId}/retry`, { webhook_endpoint: 'we_missing' })).status).toBe(404);
      expect((await api(fenpay, shop.secretKey, 'POST', `/v1/events/${eventId}/retry`, {})).status).toBe(400);
      await shop.stripe.webhookEndpoints.update(endpoint.id, { disabled: true });
      const disabled = await api<{ error: { code: string } }>(fenpay, shop.secretKey, 'POST', `/v1/events/${eventId}/retry`, { webhook_endpoint: endpoint.id });
      expect(disabled).toMatchObject({ status: 400, body: { error: { code: 'webhook_endpoint_disabled' } } });
    } finally {
      receiver.answer = () => ({ status: 200 });
    }
  });

  it('rolls the secret with an overlap: both signatures are sent until the old one expires', async () => {
    const shop = await fenpay.createMerchant();
    const endpoint = await shop.stripe.webhookEndpoints.create({ url: `${receiver.url}/${shop.merchant.id}`, enabled_events: ['customer.created'] });
    const rolled = await api<{ secret: string; id: string }>(fenpay, shop.secretKey, 'POST', `/v1/webhook_endpoints/${endpoint.id}/roll_secret`, { expires_in: '3600' });
    expect(rolled.status).toBe(200);
    expect(rolled.body.secret).toMatch(/^whsec_/);
    expect(rolled.body.secret).not.toBe(endpoint.secret);
    const customer = await shop.stripe.customers.create({ name: 'Rotation' });
    await receiver.waitFor(() => receiver.received.some((h) => h.body.includes(customer.id)));
    const hook = receiver.received.find((h) => h.body.includes(customer.id))!;
    expect(hook.signature.match(/v1=/g)).toHaveLength(2);
    expect(verifier.webhooks.constructEvent(hook.body, hook.signature, endpoint.secret!).id).toBe(hook.eventId);
    expect(verifier.webhooks.constructEvent(hook.body, hook.signature, rolled.body.secret).id).toBe(hook.eventId);

    // Rolling with no overlap retires the old secrets at once: one signature, the newest secret.
    const again = await api<{ secret: string }>(fenpay, shop.secretKey, 'POST', `/v1/webhook_endpoints/${endpoint.id}/roll_secret`, { expires_in: '0' });
    const second = await shop.stripe.customers.create({ name: 'Rotation 2' });
    await receiver.waitFor(() => receiver.received.some((h) => h.body.includes(second.id)));
    const hook2 = receiver.received.find((h) => h.body.includes(second.id))!;
    expect(hook2.signature.match(/v1=/g)).toHaveLength(1);
    expect(verifier.webhooks.constructEvent(hook2.body, hook2.signature, again.body.secret).id).toBe(hook2.eventId);
    expect(() => verifier.webhooks.constructEvent(hook2.body, hook2.signature, rolled.body.secret)).toThrow();
    expect((await api(fenpay, shop.secretKey, 'POST', `/v1/webhook_endpoints/${endpoint.id}/roll_secret`, { expires_in: String(8 * 24 * 3600) })).status).toBe(400);
  });

  it('does not follow redirects, and gives up on a receiver that does not answer in time', async () => {
    const shop = await fenpay.createMerchant();
    let mode: 'redirect' | 'hang' | 'ok' = 'redirect';
    receiver.answer = (hook) => {
      if (!hook.path.endsWith(shop.merchant.id)) return { status: 200 };
      if (mode === 'redirect') return { status: 302, location: 'http://169.254.169.254/latest/meta-data' };
      if (mode === 'hang') return 'hang';
      return { status: 200 };
    };
    try {
      await shop.stripe.webhookEndpoints.create({ url: `${receiver.url}/${shop.merchant.id}`, enabled_events: ['customer.created'] });
      await shop.stripe.customers.create({ name: 'Redirect' });
      const redirected = await until('a redirect attempt', async () => {
        const [d] = await deliveriesOf(fenpay, shop, '');
        return d && d.attempts.length >= 1 ? d : undefined;
      });
      expect(redirected.attempts[0]).toMatchObject({ http_status: 302 });
      expect(redirected.attempts[0]!.error).toContain('not followed');

      mode = 'hang';
      const timedOut = await until('a timed-out attempt', async () => {
        const [d] = await deliveriesOf(fenpay, shop, '');
        return d?.attempts.find((a) => a.error?.startsWith('timed out')) ? d : undefined;
      });
      const attempt = timedOut.attempts.find((a) => a.error?.startsWith('timed out'))!;
      expect(attempt.http_status).toBeNull();
      expect(attempt.duration_ms).toBeGreaterThanOrEqual(900);

      mode = 'ok';
      const done = await until('delivery after recovery', async () => {
        const [d] = await deliveriesOf(fenpay, shop, '');
        return d?.status === 'succeeded' ? d : undefined;
      });
      expect(done.attempts.at(-1)!.http_status).toBe(200);
    } finally {
      receiver.answer = () => ({ status: 200 });
    }
  });

  it('delivers 1,000 events under load with none lost, despite failures', async () => {
    const shop = await fenpay.createMerchant();
    const seen = new Map<string, number>();
    receiver.answer = (hook) => {
      if (!hook.path.endsWith(shop.merchant.id)) return { status: 200 };
      const n = (seen.get(hook.eventId) ?? 0) + 1;
      seen.set(hook.eventId, n);
      // Every 7th event fails its first attempt; answers take a few milliseconds.
      return n === 1 && hook.eventId.charCodeAt(hook.eventId.length - 1) % 7 === 0 ? { status: 500 } : { status: 200, delayMs: 2 };
    };
    try {
      await shop.stripe.webhookEndpoints.create({ url: `${receiver.url}/${shop.merchant.id}`, enabled_events: ['customer.created'] });
      const total = 1000;
      const ids: string[] = [];
      let next = 0;
      const client = async () => {
        while (next < total) {
          next++;
          ids.push((await shop.stripe.customers.create({ name: `Load ${next}` })).id);
        }
      };
      const started = Date.now();
      await Promise.all(Array.from({ length: 25 }, client));
      expect(ids).toHaveLength(total);
      const acceptedEvents = () => new Set(receiver.received.filter((h) => h.path.endsWith(shop.merchant.id) && h.status === 200).map((h) => h.eventId));
      await receiver.waitFor(() => acceptedEvents().size >= total, 120_000);
      const elapsed = Date.now() - started;
      const accepted = acceptedEvents();
      expect(accepted.size).toBe(total);
      // Every customer's event reached the receiver, and the platform agrees nothing is pending.
      const customersSeen = new Set(receiver.received.filter((h) => h.path.endsWith(shop.merchant.id)).map((h) => (JSON.parse(h.body) as { data: { object: { id: string } } }).data.object.id));
      expect(ids.every((id) => customersSeen.has(id))).toBe(true);
      await until('every delivery to be marked succeeded', async () => {
        const pending = await api<{ data: unknown[] }>(fenpay, shop.secretKey, 'GET', '/v1/webhook_deliveries?status=pending&limit=1');
        return pending.body.data.length === 0 ? true : undefined;
      });
      console.log(`webhooks under load: ${total} events delivered in ${elapsed} ms (${Math.trunc((total * 1000) / elapsed)}/s incl. creating them)`);
    } finally {
      receiver.answer = () => ({ status: 200 });
    }
  }, 180_000);
});
