/**
 * Checkout Sessions, coupons and promotion codes through the official Stripe SDK against a real
 * Fenpay, and the hosted page's own API driven over HTTP (tokenize, pay, promotion codes), including
 * concurrent double submits and redemption limits under concurrency.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { startTestFenpay, type TestFenpay, type TestMerchant } from './support/fenpay.ts';

// The page API's answers, read loosely as the page's script does.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type PageJson = Record<string, any>;

let env: TestFenpay;
let shop: TestMerchant;

beforeAll(async () => {
  env = await startTestFenpay();
  shop = await env.createMerchant({ name: 'Tea House' });
});
afterAll(async () => {
  await env?.close();
});

async function newSession(params: Partial<Stripe.Checkout.SessionCreateParams> = {}): Promise<Stripe.Checkout.Session> {
  return await shop.stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [
      { price_data: { currency: 'usd', unit_amount: 1999, product_data: { name: 'Oolong tea' } }, quantity: 2 },
      { price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'Teapot', description: 'Clay' } }, quantity: 1 },
    ],
    success_url: 'https://shop.example/thanks?session={CHECKOUT_SESSION_ID}',
    cancel_url: 'https://shop.example/cart',
    ...params,
  });
}

/** The page's HTML carries the page secret the page's script sends back; read it as the script does. */
async function pageSecret(session: { url: string | null }): Promise<string> {
  const html = await (await fetch(session.url!)).text();
  const json = /<script type="application\/json" id="fp-data">(.*?)<\/script>/s.exec(html)![1]!;
  return (JSON.parse(json) as { secret: string }).secret;
}

async function pageApi(sessionId: string, secret: string, path: string, body?: unknown): Promise<{ status: number; json: PageJson }> {
  const response = await fetch(`${env.url}/c/api/${sessionId}/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'x-checkout-secret': secret, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as PageJson };
}

async function payByCard(sessionId: string, secret: string, number: string, email = 'buyer@example.com') {
  const pm = await pageApi(sessionId, secret, 'payment_methods', { number, exp_month: 12, exp_year: new Date().getFullYear() + 2, cvc: '123' });
  expect(pm.status).toBe(200);
  return await pageApi(sessionId, secret, 'pay', { method: 'card', payment_method: pm.json.id, email });
}

describe('Checkout Sessions API', () => {
  it('creates a session with totals in minor units and a page url, and retrieves, lists and lists its line items', async () => {
    const session = await newSession({ client_reference_id: 'order-42', metadata: { order: '42' }, locale: 'zh', customer_email: 'a@example.com' });
    expect(session.object).toBe('checkout.session');
    expect(session.id).toMatch(/^cs_[0-9A-Za-z]{24}$/);
    expect(session.amount_subtotal).toBe(4498);
    expect(session.amount_total).toBe(4498);
    expect(session.currency).toBe('usd');
    expect(session.status).toBe('open');
    expect(session.payment_status).toBe('unpaid');
    expect(session.url).toBe(`${env.url}/c/pay/${session.id}`);
    expect(session.payment_method_types).toEqual(['card']);
    expect(session.expires_at - session.created).toBe(24 * 3600);
    expect(session.client_reference_id).toBe('order-42');
    expect(session.metadata).toEqual({ order: '42' });
    expect(session.payment_intent).toBeNull();

    const again = await shop.stripe.checkout.sessions.retrieve(session.id);
    expect(again.amount_total).toBe(4498);
    const items = await shop.stripe.checkout.sessions.listLineItems(session.id);
    expect(items.data.map((i) => [i.description, i.quantity, i.amount_subtotal, i.price?.unit_amount])).toEqual([
      ['Oolong tea', 2, 3998, 1999],
      ['Teapot', 1, 500, 500],
    ]);
    const page1 = await shop.stripe.checkout.sessions.listLineItems(session.id, { limit: 1 });
    expect(page1.has_more).toBe(true);
    const listed = await shop.stripe.checkout.sessions.list({ limit: 100 });
    expect(listed.data.map((s) => s.id)).toContain(session.id);
  });

  it('offers Alipay, WeChat Pay and UnionPay for CNY only, and refuses a wallet for another currency', async () => {
    const cny = await shop.stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'cny', unit_amount: 8800, product_data: { name: '龙井' } }, quantity: 1 }],
      success_url: 'https://shop.example/ok',
    });
    expect(cny.payment_method_types).toEqual(['card', 'alipay', 'wechat_pay', 'unionpay']);
    await expect(newSession({ payment_method_types: ['alipay'] } as never)).rejects.toMatchObject({ code: 'payment_method_type_unsupported' });
  });

  it('refuses expires_at outside 30 minutes to 24 hours, a missing success_url and mode other than payment', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(newSession({ expires_at: now + 60 })).rejects.toMatchObject({ code: 'parameter_invalid', param: 'expires_at' });
    await expect(newSession({ expires_at: now + 25 * 3600 })).rejects.toMatchObject({ code: 'parameter_invalid', param: 'expires_at' });
    await expect(newSession({ success_url: undefined } as never)).rejects.toMatchObject({ code: 'parameter_missing', param: 'success_url' });
    await expect(newSession({ mode: 'subscription' })).rejects.toMatchObject({ param: 'mode' });
    const ok = await newSession({ expires_at: now + 1800 });
    expect(ok.expires_at).toBe(now + 1800);
  });

  it('expires an open session, answers url null, emits checkout.session.expired, and refuses a second expiry', async () => {
    const session = await newSession();
    const expired = await shop.stripe.checkout.sessions.expire(session.id);
    expect(expired.status).toBe('expired');
    expect(expired.url).toBeNull();
    await expect(shop.stripe.checkout.sessions.expire(session.id)).rejects.toMatchObject({ code: 'checkout_session_expired' });
    const events = await shop.stripe.events.list({ type: 'checkout.session.expired' });
    expect(events.data.some((e) => (e.data.object as { id: string }).id === session.id)).toBe(true);
    const page = await fetch(session.url!);
    expect(page.status).toBe(410);
  });

  it("answers 404 for another merchant's session", async () => {
    const session = await newSession();
    const other = await env.createMerchant({ name: 'Other' });
    await expect(other.stripe.checkout.sessions.retrieve(session.id)).rejects.toMatchObject({ code: 'resource_missing', statusCode: 404 });
  });
});

describe('Coupons and promotion codes API', () => {
  it('creates, retrieves, updates, lists and deletes coupons (percent and amount off)', async () => {
    const percent = await shop.stripe.coupons.create({ percent_off: 12.5, duration: 'once', name: 'Spring' });
    expect(percent.percent_off).toBe(12.5);
    expect(percent.valid).toBe(true);
    const amount = await shop.stripe.coupons.create({ id: 'FIVE-OFF', amount_off: 500, currency: 'usd', duration: 'once', max_redemptions: 3 });
    expect(amount.id).toBe('FIVE-OFF');
    await expect(shop.stripe.coupons.create({ id: 'FIVE-OFF', amount_off: 100, currency: 'usd', duration: 'once' })).rejects.toMatchObject({ code: 'resource_already_exists' });
    await expect(shop.stripe.coupons.create({ amount_off: 100, duration: 'once' })).rejects.toMatchObject({ param: 'currency' });
    expect((await shop.stripe.coupons.update('FIVE-OFF', { name: 'Five off' })).name).toBe('Five off');
    expect((await shop.stripe.coupons.retrieve('FIVE-OFF')).max_redemptions).toBe(3);
    const listed = await shop.stripe.coupons.list({ limit: 1 });
    expect(listed.data).toHaveLength(1);
    expect(listed.has_more).toBe(true);
    const second = await shop.stripe.coupons.list({ limit: 1, starting_after: listed.data[0]!.id });
    expect(second.data[0]!.id).not.toBe(listed.data[0]!.id);
    expect(await shop.stripe.coupons.del(percent.id)).toMatchObject({ id: percent.id, deleted: true });
    await expect(shop.stripe.coupons.retrieve(percent.id)).rejects.toMatchObject({ code: 'resource_missing' });
  });

  it('creates promotion codes, refuses a second active code with the same text, lists by code and deactivates', async () => {
    const coupon = await shop.stripe.coupons.create({ percent_off: 10, duration: 'once' });
    const code = await shop.stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'TEA10', max_redemptions: 5, restrictions: { first_time_transaction: true } });
    expect(code.code).toBe('TEA10');
    expect(code.promotion.coupon).toBe(coupon.id);
    expect(code.restrictions.first_time_transaction).toBe(true);
    await expect(shop.stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'tea10' })).rejects.toMatchObject({ code: 'resource_already_exists' });
    const found = await shop.stripe.promotionCodes.list({ code: 'TEA10' });
    expect(found.data.map((c) => c.id)).toEqual([code.id]);
    const off = await shop.stripe.promotionCodes.update(code.id, { active: false });
    expect(off.active).toBe(false);
    const reused = await shop.stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'TEA10' });
    expect(reused.active).toBe(true);
    expect((await shop.stripe.promotionCodes.retrieve(code.id)).active).toBe(false);
  });

  it('applies a discount at creation: 12.5 % of 4498 rounds half up to 562, spread over the line items', async () => {
    const coupon = await shop.stripe.coupons.create({ percent_off: 12.5, duration: 'once' });
    const session = await newSession({ discounts: [{ coupon: coupon.id }] });
    expect(session.amount_subtotal).toBe(4498);
    expect(session.total_details?.amount_discount).toBe(562); // 562.25 → 562
    expect(session.amount_total).toBe(3936);
    expect(session.discounts).toEqual([{ coupon: coupon.id, promotion_code: null }]);
    const items = await shop.stripe.checkout.sessions.listLineItems(session.id);
    expect(items.data.map((i) => i.amount_discount).reduce((a, b) => a + b, 0)).toBe(562);
    expect(items.data.map((i) => i.amount_total)).toEqual([3998 - items.data[0]!.amount_discount, 500 - items.data[1]!.amount_discount]);
    await expect(newSession({ discounts: [{ coupon: coupon.id }], allow_promotion_codes: true })).rejects.toMatchObject({ param: 'discounts' });
  });
});

describe('paying through the hosted page API', () => {
  it('pays by card: the session completes, the intent succeeds, checkout.session.completed is written', async () => {
    const session = await newSession();
    const secret = await pageSecret(session);
    const paid = await payByCard(session.id, secret, '4242424242424242');
    expect(paid.status).toBe(200);
    expect(paid.json.status).toBe('complete');
    expect(paid.json.success_url).toBe(`https://shop.example/thanks?session=${session.id}`);
    const after = await shop.stripe.checkout.sessions.retrieve(session.id);
    expect(after.status).toBe('complete');
    expect(after.payment_status).toBe('paid');
    expect(after.customer_details?.email).toBe('buyer@example.com');
    const intent = await shop.stripe.paymentIntents.retrieve(after.payment_intent as string);
    expect(intent.status).toBe('succeeded');
    expect(intent.amount_received).toBe(4498);
    const events = await shop.stripe.events.list({ type: 'checkout.session.completed' });
    expect(events.data.some((e) => (e.data.object as { id: string }).id === session.id)).toBe(true);
    // Paid once: another attempt is refused.
    const token = await pageApi(session.id, secret, 'payment_methods', { number: '4242424242424242', exp_month: 12, exp_year: 2040, cvc: '123' });
    expect(token.json.error.code).toBe('checkout_session_completed');
    const again = await pageApi(session.id, secret, 'pay', { method: 'card', payment_method: 'pm_card_visa', email: 'buyer@example.com' });
    expect(again.json.error.code).toBe('checkout_session_completed');
    expect((await shop.stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.id === after.payment_intent)).toHaveLength(1);
  });

  it('refuses page calls without the page secret', async () => {
    const session = await newSession();
    const wrong = await pageApi(session.id, 'x'.repeat(32), 'state');
    expect(wrong.status).toBe(403);
    const none = await pageApi(session.id, '', 'pay', { method: 'card' });
    expect(none.status).toBe(403);
  });

  it('a decline leaves the session open with a specific error; another card then pays it', async () => {
    const session = await newSession();
    const secret = await pageSecret(session);
    const declined = await payByCard(session.id, secret, '4000000000009995');
    expect(declined.json.status).toBe('open');
    expect(declined.json.error).toEqual({ code: 'card_declined', decline_code: 'insufficient_funds' });
    const ok = await payByCard(session.id, secret, '5555555555554444');
    expect(ok.json.status).toBe('complete');
    const after = await shop.stripe.checkout.sessions.retrieve(session.id);
    const intent = await shop.stripe.paymentIntents.retrieve(after.payment_intent as string);
    expect(intent.amount_received).toBe(4498);
  });

  it('concurrent double submits pay once', async () => {
    const session = await newSession();
    const secret = await pageSecret(session);
    const pms = await Promise.all(
      [0, 1, 2, 3, 4].map(async () => (await pageApi(session.id, secret, 'payment_methods', { number: '4242424242424242', exp_month: 12, exp_year: 2040, cvc: '123' })).json.id as string),
    );
    const results = await Promise.all(pms.map((pm) => pageApi(session.id, secret, 'pay', { method: 'card', payment_method: pm, email: 'twice@example.com' })));
    expect(results.filter((r) => r.status === 200 && r.json.status === 'complete').length).toBeGreaterThanOrEqual(1);
    const intents = await env.database.db.selectFrom('payment_intents').select(['id', 'status']).where('receipt_email', '=', 'twice@example.com').execute();
    const attempts = await env.database.db.selectFrom('payment_attempts').select(['id', 'status']).where('payment_intent_id', 'in', intents.map((i) => i.id)).execute();
    expect(attempts.filter((a) => a.status === 'succeeded')).toHaveLength(1);
    expect(intents.filter((i) => i.status === 'succeeded')).toHaveLength(1);
  });

  it('applies a promotion code typed on the page, refuses an unknown or expired one, and counts the redemption', async () => {
    const coupon = await shop.stripe.coupons.create({ amount_off: 1000, currency: 'usd', duration: 'once' });
    const code = await shop.stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'TENOFF' });
    const session = await newSession({ allow_promotion_codes: true });
    const secret = await pageSecret(session);
    expect((await pageApi(session.id, secret, 'promotion_code', { code: 'NOPE' })).json.error.code).toBe('promotion_code_invalid');
    const applied = await pageApi(session.id, secret, 'promotion_code', { code: 'tenoff' });
    expect(applied.json.amount_total).toBe(3498);
    expect(applied.json.display.discount_label).toBe('TENOFF');
    const paid = await payByCard(session.id, secret, '4242424242424242');
    expect(paid.json.status).toBe('complete');
    const after = await shop.stripe.checkout.sessions.retrieve(session.id);
    expect(after.discounts).toEqual([{ coupon: coupon.id, promotion_code: code.id }]);
    expect((await shop.stripe.paymentIntents.retrieve(after.payment_intent as string)).amount).toBe(3498);
    expect((await shop.stripe.promotionCodes.retrieve(code.id)).times_redeemed).toBe(1);
    expect((await shop.stripe.coupons.retrieve(coupon.id)).times_redeemed).toBe(1);
    // Expired code: moved past its expiry in the database (the API only takes future dates).
    const old = await shop.stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'OLD', expires_at: Math.floor(Date.now() / 1000) + 3600 });
    await env.database.db.updateTable('promotion_codes').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', old.id).execute();
    const s2 = await newSession({ allow_promotion_codes: true });
    expect((await pageApi(s2.id, await pageSecret(s2), 'promotion_code', { code: 'OLD' })).json.error.code).toBe('promotion_code_expired');
  });

  it('max_redemptions holds when many payers pay at once', async () => {
    const coupon = await shop.stripe.coupons.create({ percent_off: 20, duration: 'once' });
    await shop.stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'ONLYTWO', max_redemptions: 2 });
    const sessions = await Promise.all([0, 1, 2, 3, 4].map(() => newSession({ allow_promotion_codes: true })));
    const secrets = await Promise.all(sessions.map(pageSecret));
    for (const [i, s] of sessions.entries()) expect((await pageApi(s.id, secrets[i]!, 'promotion_code', { code: 'ONLYTWO' })).status).toBe(200);
    const results = await Promise.all(sessions.map((s, i) => payByCard(s.id, secrets[i]!, '4242424242424242', `p${i}@example.com`)));
    const completed = results.filter((r) => r.json.status === 'complete');
    const refused = results.filter((r) => r.json.error?.code === 'promotion_code_redemption_limit_reached');
    expect(completed).toHaveLength(2);
    expect(refused).toHaveLength(3);
  });

  it('a first-time-only code is refused to a payer who already paid', async () => {
    const coupon = await shop.stripe.coupons.create({ percent_off: 50, duration: 'once' });
    await shop.stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'WELCOME', restrictions: { first_time_transaction: true } });
    const first = await newSession({ allow_promotion_codes: true, customer_email: 'new@example.com' });
    const s1 = await pageSecret(first);
    expect((await pageApi(first.id, s1, 'promotion_code', { code: 'WELCOME' })).json.amount_total).toBe(2249);
    expect((await payByCard(first.id, s1, '4242424242424242')).json.status).toBe('complete');
    const second = await newSession({ allow_promotion_codes: true, customer_email: 'new@example.com' });
    expect((await pageApi(second.id, await pageSecret(second), 'promotion_code', { code: 'WELCOME' })).json.error.code).toBe('promotion_code_first_time_only');
  });

  it('a 100 % discount completes without a payment (payment_status no_payment_required)', async () => {
    const coupon = await shop.stripe.coupons.create({ percent_off: 100, duration: 'once' });
    const session = await newSession({ discounts: [{ coupon: coupon.id }] });
    expect(session.amount_total).toBe(0);
    const done = await pageApi(session.id, await pageSecret(session), 'pay', { method: 'card', email: 'free@example.com' });
    expect(done.json.status).toBe('complete');
    expect((await shop.stripe.checkout.sessions.retrieve(session.id)).payment_status).toBe('no_payment_required');
  });

  it('a session past its expiry is expired by the sweeper and the page refuses to pay', async () => {
    const session = await newSession({ expires_at: Math.floor(Date.now() / 1000) + 1800 });
    const secret = await pageSecret(session);
    await env.database.db.updateTable('checkout_sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', session.id).execute();
    const paid = await payByCard(session.id, secret, '4242424242424242');
    expect(paid.json.error.code).toBe('checkout_session_expired');
    expect((await shop.stripe.checkout.sessions.retrieve(session.id)).status).toBe('expired');
  });
});

describe('card testing', () => {
  it('refuses further attempts after too many failures on one checkout, charging nothing', async () => {
    const session = await newSession();
    const secret = await pageSecret(session);
    const max = env.fenpay.config.checkoutFailedAttemptsMax;
    for (let i = 0; i < max; i++) {
      const declined = await payByCard(session.id, secret, '4000000000000002');
      expect(declined.json.error?.code, `attempt ${i + 1}`).toBe('card_declined');
    }
    const refused = await payByCard(session.id, secret, '4242424242424242');
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('checkout_too_many_attempts');
    const after = await shop.stripe.checkout.sessions.retrieve(session.id);
    expect(after).toMatchObject({ status: 'open', payment_status: 'unpaid' });
  });
});
