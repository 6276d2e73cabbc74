/**
 * Webhook failure paths that need their own configuration: SSRF refusal in live mode, giving up after
 * the retry window, disabling an endpoint that keeps failing (and telling the merchant), and a worker
 * killed in the middle of a delivery.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestFenpay, testVaultKeys, type TestFenpay, type TestMerchant } from './support/fenpay.ts';
import { startWebhookReceiver } from './support/webhook-receiver.ts';
import { stripeError } from './support/stripe-error.ts';
import { until } from './support/until.ts';

interface Delivery {
  id: string;
  status: string;
  last_error: string | null;
  attempts: { attempt: number; http_status: number | null; error: string | null }[];
}

async function deliveries(fenpay: TestFenpay, shop: TestMerchant, query = ''): Promise<Delivery[]> {
  const response = await fetch(`${fenpay.url}/v1/webhook_deliveries?limit=100&${query}`, { headers: { authorization: `Bearer ${shop.secretKey}` } });
  return ((await response.json()) as { data: Delivery[] }).data;
}


const fast = { WEBHOOK_RETRY_SCHEDULE: '200ms', WEBHOOK_DISPATCH_INTERVAL: '50ms', WEBHOOK_TIMEOUT: '1s' };

describe('webhook failure paths', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const track = <T extends { close(): Promise<void> }>(thing: T): T => {
    cleanups.push(() => thing.close());
    return thing;
  };

  it('refuses live-mode endpoints on private, loopback and link-local addresses or without https', async () => {
    const fenpay = track(await startTestFenpay({ withoutJobQueue: true }));
    const shop = await fenpay.createMerchant();
    for (const url of ['http://example.com/hook', 'https://127.0.0.1/hook', 'https://[::1]:8443/hook', 'https://169.254.169.254/latest', 'https://192.168.0.10/hook', 'https://localhost/hook']) {
      const error = await stripeError(shop.liveStripe.webhookEndpoints.create({ url, enabled_events: ['*'] }));
      expect(error, url).toMatchObject({ statusCode: 400, code: 'webhook_url_not_allowed', param: 'url' });
    }
    expect((await shop.liveStripe.webhookEndpoints.list()).data).toHaveLength(0);
    // Updating a good endpoint to a private address is refused as well and leaves it unchanged.
    const good = await shop.liveStripe.webhookEndpoints.create({ url: 'https://93.184.216.34/hook', enabled_events: ['*'] });
    const error = await stripeError(shop.liveStripe.webhookEndpoints.update(good.id, { url: 'https://10.0.0.1/hook' }));
    expect(error).toMatchObject({ statusCode: 400, code: 'webhook_url_not_allowed' });
    expect((await shop.liveStripe.webhookEndpoints.retrieve(good.id)).url).toBe('https://93.184.216.34/hook');
    // Test mode allows local receivers by default (WEBHOOK_PRIVATE_TARGETS=test) for development.
    expect((await shop.stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hook', enabled_events: ['*'] })).status).toBe('enabled');
  });

  it('refuses local receivers in test mode too when WEBHOOK_PRIVATE_TARGETS=never', async () => {
    const fenpay = track(await startTestFenpay({ withoutJobQueue: true, env: { WEBHOOK_PRIVATE_TARGETS: 'never' } }));
    const shop = await fenpay.createMerchant();
    const error = await stripeError(shop.stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hook', enabled_events: ['*'] }));
    expect(error).toMatchObject({ statusCode: 400, code: 'webhook_url_not_allowed' });
  });

  it('gives a delivery up when its retry window closes', async () => {
    const fenpay = track(await startTestFenpay({ env: { ...fast, WEBHOOK_RETRY_WINDOW: '1500ms', WEBHOOK_DISABLE_AFTER: '1h' } }));
    const receiver = track(await startWebhookReceiver());
    receiver.answer = () => ({ status: 500 });
    const shop = await fenpay.createMerchant();
    await shop.stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['customer.created'] });
    await shop.stripe.customers.create({ name: 'Never delivered' });
    const given = await until('the delivery to be given up', async () => {
      const [d] = await deliveries(fenpay, shop);
      return d?.status === 'failed' ? d : undefined;
    });
    expect(given.attempts.length).toBeGreaterThanOrEqual(2);
    expect(given.attempts.every((a) => a.http_status === 500)).toBe(true);
    const settled = receiver.received.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(receiver.received.length).toBe(settled); // no attempts after giving up
    const undelivered = await fetch(`${fenpay.url}/v1/events?delivery_success=false`, { headers: { authorization: `Bearer ${shop.secretKey}` } });
    expect(((await undelivered.json()) as { data: unknown[] }).data).toHaveLength(1);
  });

  it('disables an endpoint that keeps failing, and tells the merchant through its other endpoints', async () => {
    const fenpay = track(await startTestFenpay({ env: { ...fast, WEBHOOK_RETRY_WINDOW: '1h', WEBHOOK_DISABLE_AFTER: '1s' } }));
    const receiver = track(await startWebhookReceiver());
    receiver.answer = (hook) => (hook.path.endsWith('/broken') ? { status: 500 } : { status: 200 });
    const shop = await fenpay.createMerchant();
    const broken = await shop.stripe.webhookEndpoints.create({ url: `${receiver.url}/broken`, enabled_events: ['customer.created'] });
    await shop.stripe.webhookEndpoints.create({ url: `${receiver.url}/ops`, enabled_events: ['webhook_endpoint.disabled' as 'customer.created'] });
    await shop.stripe.customers.create({ name: 'Trigger' });

    const endpoint = await until('the endpoint to be disabled', async () => {
      const e = await shop.stripe.webhookEndpoints.retrieve(broken.id);
      return e.status === 'disabled' ? e : undefined;
    });
    expect((endpoint as unknown as { fenpay_disabled_reason: string }).fenpay_disabled_reason).toContain('failed');
    const events = await shop.stripe.events.list({ type: 'webhook_endpoint.disabled' });
    expect(events.data).toHaveLength(1);
    expect((events.data[0]!.data.object as { id: string }).id).toBe(broken.id);
    await receiver.waitFor((received) => received.some((h) => h.path.endsWith('/ops') && h.eventType === 'webhook_endpoint.disabled'));
    // Its pending delivery stops: failed, no more attempts.
    const [stopped] = await until('the pending delivery to stop', async () => {
      const list = await deliveries(fenpay, shop, `webhook_endpoint=${broken.id}`);
      return list[0]?.status === 'failed' ? list : undefined;
    });
    expect(stopped!.last_error).toBe('endpoint disabled');
    // Enabling it again clears the failure streak.
    const enabled = await shop.stripe.webhookEndpoints.update(broken.id, { disabled: false });
    expect(enabled).toMatchObject({ status: 'enabled', fenpay_failing_since: null });
  });

  it('keeps at most N attempts in flight per endpoint, and still delivers everything', async () => {
    const fenpay = track(await startTestFenpay({ env: { ...fast, WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT: '2', WORKER_CONCURRENCY: '8' } }));
    const receiver = track(await startWebhookReceiver());
    let inFlight = 0;
    let peak = 0;
    receiver.answer = () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      setTimeout(() => inFlight--, 300);
      return { status: 200, delayMs: 300 };
    };
    const shop = await fenpay.createMerchant();
    await shop.stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['customer.created'] });
    await Promise.all(Array.from({ length: 12 }, (_, i) => shop.stripe.customers.create({ name: `Burst ${i}` })));
    await receiver.waitFor((received) => new Set(received.map((h) => h.eventId)).size === 12, 60_000);
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBe(2); // the limit is used, not just respected
  }, 90_000);

  it('delivers even when the worker is killed in the middle of a delivery', async () => {
    // The API runs here; the worker runs in a child process that is killed with SIGKILL mid-POST.
    const env = { ...fast, WEBHOOK_TIMEOUT: '2s', WEBHOOK_RETRY_WINDOW: '1h' };
    const fenpay = track(await startTestFenpay({ env: { ...env, FENPAY_ROLES: 'api' } }));
    const receiver = track(await startWebhookReceiver());
    let first = true;
    receiver.answer = () => {
      if (first) {
        first = false;
        return 'hang';
      }
      return { status: 200 };
    };
    const shop = await fenpay.createMerchant();
    await shop.stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['customer.created'] });
    const customer = await shop.stripe.customers.create({ name: 'Survivor' });

    const startWorker = (): ChildProcess => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: { ...process.env, ...env, DATABASE_URL: fenpay.database.url, FENPAY_ROLES: 'worker', FENPAY_ENV: 'test', VAULT_KEYS: testVaultKeys, FENPAY_SEED_DEMO: 'false', LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      cleanups.push(async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await once(child, 'exit');
        }
      });
      return child;
    };
    const doomed = startWorker();
    await receiver.waitFor((received) => received.length === 1);
    doomed.kill('SIGKILL');
    await once(doomed, 'exit');

    startWorker();
    await receiver.waitFor((received) => received.some((h) => h.status === 200), 60_000);
    const hooks = receiver.received.filter((h) => h.body.includes(customer.id));
    expect(hooks).toHaveLength(2);
    expect(hooks[0]!.eventId).toBe(hooks[1]!.eventId); // the same event, so the receiver can deduplicate
    const [delivery] = await until('the delivery to be recorded as succeeded', async () => {
      const list = await deliveries(fenpay, shop);
      return list[0]?.status === 'succeeded' ? list : undefined;
    });
    expect(delivery!.attempts.map((a) => a.http_status)).toEqual([null, 200]);
    expect(delivery!.attempts[0]!.error).toContain('outcome unknown');
  }, 120_000);
});
