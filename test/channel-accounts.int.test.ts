/**
 * Live mode through the merchant's own channel accounts: credentials go in once, sealed, never come
 * back out; a live Alipay payment goes through the merchant's Alipay app (here an Alipay emulator
 * standing in for openapi.alipay.com, on its own server) and its notification arrives at the account's
 * own notify URL; a live card payment goes through the merchant's own Stripe-compatible acquirer
 * account (here a second Fenpay). Without an active account a live payment is refused, never left
 * processing.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlipayEmulator, type AlipayEmulator } from '../src/sandbox/alipay/index.ts';
import { freePort, startTestFenpay, type TestFenpay, type TestMerchant } from './support/fenpay.ts';
import { stripeError } from './support/stripe-error.ts';

async function api<T>(url: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as T };
}

interface Account {
  id: string;
  status: string;
  channel: string;
  livemode: boolean;
  notify_url: string;
  credentials: Record<string, string>;
  error?: { code: string; param: string };
}

describe('channel accounts and live mode', () => {
  let fenpay: TestFenpay;
  let shop: TestMerchant;
  let provider: FastifyInstance;
  let alipay: AlipayEmulator;

  beforeAll(async () => {
    fenpay = await startTestFenpay();
    shop = await fenpay.createMerchant({ handlesCardData: true });
    // "Alipay" on its own host: the merchant's live credentials point at it.
    const port = await freePort();
    alipay = createAlipayEmulator({ publicUrl: `http://127.0.0.1:${port}`, prefix: '/alipay', clockScale: 600 });
    provider = Fastify();
    await provider.register(alipay.plugin);
    await provider.listen({ host: '127.0.0.1', port });
  });
  afterAll(async () => {
    alipay?.stop();
    await provider?.close();
    await fenpay?.close();
  });

  it('refuses a live wallet payment without an account, takes it through the merchant\'s own Alipay account with one', async () => {
    const refused = await stripeError(
      shop.liveStripe.paymentIntents.create({ amount: 2000, currency: 'cny', allowed_payment_method_types: ['alipay'], payment_method_data: { type: 'alipay' }, confirm: true }),
    );
    expect(refused).toMatchObject({ statusCode: 400, code: 'payment_method_type_unsupported' });
    expect(refused.message).toContain('channel_accounts');

    const credentials = alipay.credentials();
    const created = await api<Account>(fenpay.url, shop.liveSecretKey, 'POST', '/v1/channel_accounts', {
      channel: 'alipay',
      description: 'Main Alipay app',
      credentials: { app_id: credentials.appId, private_key: credentials.privateKey.reveal(), alipay_public_key: credentials.alipayPublicKey, gateway: credentials.gateway },
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ object: 'channel_account', channel: 'alipay', livemode: true, status: 'active' });
    expect(created.body.credentials.private_key).toBe('[sealed]');
    expect(created.body.credentials.app_id).toBe(credentials.appId);
    expect(created.body.notify_url).toBe(`${fenpay.url}/notify/alipay/${created.body.id}`);
    // The private key is stored sealed, nowhere in plain text.
    const stored = await fenpay.database.db.selectFrom('channel_accounts').selectAll().where('id', '=', created.body.id).executeTakeFirstOrThrow();
    const keyBody = credentials.privateKey.reveal().replace(/-----[^-]+-----|\s/g, '').slice(20, 60);
    expect(JSON.stringify(stored)).not.toContain(keyBody);
    // A test-mode key does not see the live account.
    expect((await api(fenpay.url, shop.secretKey, 'GET', `/v1/channel_accounts/${created.body.id}`)).status).toBe(404);

    const intent = await shop.liveStripe.paymentIntents.create({
      amount: 2000,
      currency: 'cny',
      allowed_payment_method_types: ['alipay'],
      payment_method_data: { type: 'alipay' },
      payment_method_options: { alipay: { fenpay_flow: 'qr' } } as never,
      confirm: true,
    });
    expect(intent.livemode).toBe(true);
    expect(intent.status).toBe('requires_action');
    const orderNo = (intent.latest_charge as string).slice(3);
    expect(alipay.buyer.scan(orderNo)?.status).toBe('WAIT_BUYER_PAY');
    alipay.buyer.act(orderNo, 'approve');
    // Alipay notifies the account's own URL; Fenpay verifies it with that account's keys.
    for (let i = 0; i < 100 && (await shop.liveStripe.paymentIntents.retrieve(intent.id)).status !== 'succeeded'; i++) await new Promise((r) => setTimeout(r, 100));
    const paid = await shop.liveStripe.paymentIntents.retrieve(intent.id);
    expect(paid.status).toBe('succeeded');
    const notification = await fenpay.database.db.selectFrom('channel_notifications').selectAll().where('order_no', '=', orderNo).executeTakeFirstOrThrow();
    expect(notification.status).toBe('processed');
    const refund = await shop.liveStripe.refunds.create({ payment_intent: intent.id, amount: 500 });
    expect(refund.status).toBe('succeeded');
    expect(alipay.trade(orderNo)?.amountRefunded).toBe('5.00');

    // Disabled: new live payments are refused again; existing ones still refund through it.
    const disabled = await api<Account>(fenpay.url, shop.liveSecretKey, 'POST', `/v1/channel_accounts/${created.body.id}`, { disabled: true });
    expect(disabled.body.status).toBe('disabled');
    await stripeError(shop.liveStripe.paymentIntents.create({ amount: 100, currency: 'cny', allowed_payment_method_types: ['alipay'], payment_method_data: { type: 'alipay' }, confirm: true }));
    expect((await shop.liveStripe.refunds.create({ payment_intent: intent.id, amount: 100 })).status).toBe('succeeded');
  });

  it('refuses credentials that cannot work, unknown fields and unknown channels, creating nothing', async () => {
    const bad = await api<Account>(fenpay.url, shop.liveSecretKey, 'POST', '/v1/channel_accounts', {
      channel: 'alipay',
      credentials: { app_id: '2021000000000000', private_key: 'not a key', alipay_public_key: 'nope' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'parameter_invalid', param: 'credentials' });
    const missing = await api<Account>(fenpay.url, shop.liveSecretKey, 'POST', '/v1/channel_accounts', { channel: 'wechat_pay', credentials: { mch_id: '1900000109' } });
    expect(missing.body.error).toMatchObject({ code: 'parameter_missing' });
    const unknown = await api<Account>(fenpay.url, shop.liveSecretKey, 'POST', '/v1/channel_accounts', { channel: 'alipay', credentials: { app_id: 'x', extra: 'y' } });
    expect(unknown.body.error).toMatchObject({ code: 'parameter_unknown', param: 'credentials[extra]' });
    const channel = await api<Account>(fenpay.url, shop.liveSecretKey, 'POST', '/v1/channel_accounts', { channel: 'paypal', credentials: {} });
    expect(channel.body.error).toMatchObject({ code: 'parameter_invalid', param: 'channel' });
    const list = await api<{ data: Account[] }>(fenpay.url, shop.liveSecretKey, 'GET', '/v1/channel_accounts');
    expect(list.body.data.map((a) => a.channel)).toEqual(['alipay']); // only the one from the first test
  });

  it('takes card payments through the merchant\'s own Stripe-compatible acquirer account instead of the built-in sandbox', async () => {
    // The acquirer is a second Fenpay; its test mode is a real Stripe-compatible implementation.
    const acquirerFenpay = await startTestFenpay();
    try {
      const acquirer = await acquirerFenpay.createMerchant({ handlesCardData: true, name: 'Acquirer' });
      const merchant = await fenpay.createMerchant({ handlesCardData: true, name: 'Card shop' });
      // The key's mode must be the account's: a test key cannot back a live account.
      const wrongMode = await api<Account>(fenpay.url, merchant.liveSecretKey, 'POST', '/v1/channel_accounts', {
        channel: 'stripe_acquirer',
        credentials: { secret_key: acquirer.secretKey, api_base: acquirerFenpay.url },
      });
      expect(wrongMode.status).toBe(400);
      expect(wrongMode.body.error).toMatchObject({ param: 'credentials' });
      const account = await api<Account>(fenpay.url, merchant.secretKey, 'POST', '/v1/channel_accounts', {
        channel: 'stripe_acquirer',
        credentials: { secret_key: acquirer.secretKey, api_base: acquirerFenpay.url },
      });
      expect(account.status).toBe(200);
      expect(account.body.credentials.secret_key).toBe('[sealed]');
      const intent = await merchant.stripe.paymentIntents.create({ amount: 4500, currency: 'eur', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
      expect(intent.status).toBe('requires_capture');
      // The acquirer holds the authorization, under the merchant's acquirer account.
      const atAcquirer = await acquirer.stripe.paymentIntents.list({ limit: 10 });
      expect(atAcquirer.data).toHaveLength(1);
      expect(atAcquirer.data[0]).toMatchObject({ amount: 4500, currency: 'eur', status: 'requires_capture' });
      expect((await merchant.stripe.paymentIntents.capture(intent.id, { amount_to_capture: 4000 })).status).toBe('succeeded');
      expect((await acquirer.stripe.paymentIntents.retrieve(atAcquirer.data[0]!.id)).amount_received).toBe(4000);
      const declined = await stripeError(merchant.stripe.paymentIntents.create({ amount: 100, currency: 'eur', payment_method: 'pm_card_chargeDeclined', confirm: true }));
      expect(declined).toMatchObject({ statusCode: 402, code: 'card_declined' });
      const refund = await merchant.stripe.refunds.create({ payment_intent: intent.id, amount: 1000 });
      expect(refund.status).toBe('succeeded');
      expect((await acquirer.stripe.refunds.list({ limit: 10 })).data.map((r) => r.amount)).toEqual([1000]);
    } finally {
      await acquirerFenpay.close();
    }
  });
});
