/**
 * Alipay, WeChat Pay and UnionPay end to end, as a merchant and a payer use them in test mode: the
 * official Stripe SDK creates and confirms the PaymentIntent, the payer acts on the provider emulator's
 * own page (reached through the next action, over HTTP, as a browser would), the provider's signed
 * notification comes back to /notify/:channel, and the intent succeeds or fails; refunds go back
 * through the same adapters. Forged and duplicated notifications change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { auditLedger } from '../src/ledger/index.ts';
import { startTestFenpay, type TestFenpay, type TestMerchant } from './support/fenpay.ts';
import { stripeError } from './support/stripe-error.ts';
import { until } from './support/until.ts';


/** The first form of a page: where it posts and its hidden fields. */
function formOf(html: string, pageUrl: string): { action: string; fields: Record<string, string> } {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no form on ${pageUrl}:\n${html.slice(0, 500)}`);
  const decode = (s: string) => s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&').replace(/&quot;/g, '"');
  const fields: Record<string, string> = {};
  for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"/gi)) fields[decode(input[1]!)] = decode(input[2]!);
  return { action: new URL(decode(form[1]!), pageUrl).toString(), fields };
}

async function post(url: string, fields: Record<string, string>): Promise<Response> {
  return await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(), redirect: 'manual' });
}

describe('wallet channels in test mode', () => {
  let fenpay: TestFenpay;
  let shop: TestMerchant;

  beforeAll(async () => {
    fenpay = await startTestFenpay({ env: { SANDBOX_CLOCK_SCALE: '600' } });
    shop = await fenpay.createMerchant();
  });
  afterAll(async () => {
    await fenpay?.close();
  });

  const settled = (id: string, status: string) =>
    until(`${id} to be ${status}`, async () => {
      const intent = await shop.stripe.paymentIntents.retrieve(id);
      return intent.status === status ? intent : undefined;
    });

  it('Alipay: redirect, the payer approves on the cashier page, the notification settles the intent, partial refunds', async () => {
    const intent = await shop.stripe.paymentIntents.create({
      amount: 8800,
      currency: 'cny',
      allowed_payment_method_types: ['alipay'],
      payment_method_data: { type: 'alipay' },
      confirm: true,
      return_url: 'https://shop.example/return',
      description: 'Tea set',
    });
    expect(intent.status).toBe('requires_action');
    expect(intent.next_action?.type).toBe('alipay_handle_redirect');
    const redirect = intent.next_action!.alipay_handle_redirect!;
    expect(redirect.return_url).toBe('https://shop.example/return');
    // The payer's browser follows the redirect to the (emulated) Alipay cashier and pays.
    const cashier = await fetch(redirect.url!);
    expect(cashier.status).toBe(200);
    const page = await cashier.text();
    expect(page).toContain('88.00');
    const form = formOf(page, cashier.url);
    const paid = await post(form.action, { action: 'approve' });
    expect(paid.status).toBe(303);
    expect(paid.headers.get('location')).toMatch(/^https:\/\/shop\.example\/return\?/);

    const succeeded = await settled(intent.id, 'succeeded');
    expect(succeeded.amount_received).toBe(8800);
    const events = await shop.stripe.events.list({ type: 'payment_intent.succeeded' });
    expect(events.data.some((e) => (e.data.object as { id: string }).id === intent.id)).toBe(true);

    const first = await shop.stripe.refunds.create({ payment_intent: intent.id, amount: 1000 });
    expect(first.status).toBe('succeeded');
    const second = await shop.stripe.refunds.create({ payment_intent: intent.id, amount: 2000 });
    expect(second.status).toBe('succeeded');
    expect((await shop.stripe.paymentIntents.retrieve(intent.id, {})).status).toBe('succeeded');
    const charge = (await shop.stripe.refunds.list({ payment_intent: intent.id })).data.map((r) => r.amount).sort();
    expect(charge).toEqual([1000, 2000]);
  });

  it('Alipay QR: a declined payment fails the intent with a clear error', async () => {
    const intent = await shop.stripe.paymentIntents.create({
      amount: 500,
      currency: 'cny',
      allowed_payment_method_types: ['alipay'],
      payment_method_data: { type: 'alipay' },
      payment_method_options: { alipay: { fenpay_flow: 'qr' } } as Stripe.PaymentIntentCreateParams.PaymentMethodOptions,
      confirm: true,
    });
    expect(intent.next_action?.type).toBe('display_qr_code');
    const qr = (intent.next_action as unknown as { display_qr_code: { data: string; image_url_png: string } }).display_qr_code;
    expect(qr.image_url_png).toMatch(/^data:image\/png;base64,/);
    const cashier = await fetch(qr.data); // "scanning" opens the cashier
    const form = formOf(await cashier.text(), cashier.url);
    await post(form.action, { action: 'decline' });
    // Alipay does not notify a declined QR payment: the active query finds the closed trade.
    await fenpay.fenpay.services.db.updateTable('payment_attempts').set({ next_sync_at: new Date() }).where('payment_intent_id', '=', intent.id).execute();
    const failed = await until('the declined intent to fail', async () => {
      const { syncAttempt } = await import('../src/flows/index.ts');
      const current = await shop.stripe.paymentIntents.retrieve(intent.id);
      if (current.status === 'requires_payment_method' || current.status === 'canceled') return current;
      await syncAttempt(fenpay.fenpay.services, current.latest_charge as string);
      return undefined;
    });
    expect(['requires_payment_method', 'canceled']).toContain(failed.status);
  });

  it('WeChat Pay: Native QR, the payer pays on the scan page, the encrypted notification settles it', async () => {
    const intent = await shop.stripe.paymentIntents.create({
      amount: 1999,
      currency: 'cny',
      allowed_payment_method_types: ['wechat_pay'],
      payment_method_data: { type: 'wechat_pay' },
      payment_method_options: { wechat_pay: { client: 'web' } },
      confirm: true,
    });
    expect(intent.next_action?.type).toBe('wechat_pay_display_qr_code');
    const qr = intent.next_action!.wechat_pay_display_qr_code!;
    expect(qr.image_data_url).toMatch(/^data:image\/png;base64,/);
    const scan = await fetch(qr.data);
    const html = await scan.text();
    expect(html).toContain('19.99');
    const form = formOf(html, scan.url);
    await post(form.action, { ...form.fields, action: 'pay' });
    const succeeded = await settled(intent.id, 'succeeded');
    expect(succeeded.amount_received).toBe(1999);
    const refund = await shop.stripe.refunds.create({ payment_intent: intent.id, amount: 999 });
    // WeChat settles refunds asynchronously: pending first, then the notification (or a query) books it.
    expect(['pending', 'succeeded']).toContain(refund.status);
    await until('the WeChat refund to succeed', async () => {
      const { recoverPendingRefund } = await import('../src/flows/index.ts');
      const current = await shop.stripe.refunds.retrieve(refund.id);
      if (current.status === 'succeeded') return current;
      await recoverPendingRefund(fenpay.fenpay.services, refund.id);
      return undefined;
    });
  });

  it('UnionPay: the redirect posts the signed form, the payer approves, the back notification settles it', async () => {
    const intent = await shop.stripe.paymentIntents.create({
      amount: 12000,
      currency: 'cny',
      allowed_payment_method_types: ['unionpay'],
      payment_method_data: { type: 'unionpay' },
      confirm: true,
      return_url: 'https://shop.example/unionpay-return',
    });
    expect(intent.next_action?.type).toBe('redirect_to_url');
    const forwardUrl = intent.next_action!.redirect_to_url!.url!;
    const forward = await fetch(forwardUrl);
    expect(forward.headers.get('content-security-policy')).toContain('form-action');
    const signed = formOf(await forward.text(), forwardUrl);
    expect(signed.fields.txnAmt).toBe('12000');
    expect(signed.fields.signature).toBeTruthy();
    const front = await post(signed.action, signed.fields);
    const cashierHtml = await front.text();
    const cashier = formOf(cashierHtml, signed.action);
    await post(cashier.action, { ...cashier.fields, action: 'approve' });
    const succeeded = await settled(intent.id, 'succeeded');
    expect(succeeded.amount_received).toBe(12000);
    // The forwarding page no longer offers the form once the payment is done.
    expect((await fetch(forwardUrl)).status).toBe(410);
  });

  it('books a success that arrives after the close, and leaves it for review when the merchant says so', async () => {
    const settings = async (body?: Record<string, string>) =>
      (await (await fetch(`${fenpay.url}/v1/payment_settings`, { method: body ? 'POST' : 'GET', headers: { authorization: `Bearer ${shop.secretKey}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) })).json()) as { late_success: string };
    expect((await settings()).late_success).toBe('refund');
    expect((await settings({ late_success: 'review' })).late_success).toBe('review');
    try {
      const intent = await shop.stripe.paymentIntents.create({
        amount: 2500,
        currency: 'cny',
        allowed_payment_method_types: ['wechat_pay'],
        payment_method_data: { type: 'wechat_pay' },
        confirm: true,
      });
      const canceled = await shop.stripe.paymentIntents.cancel(intent.id); // closes the order at WeChat Pay first
      expect(canceled.status).toBe('canceled');
      // The provider then reports the order paid after all (a late, verified success).
      const { applyChannelOutcome } = await import('../src/flows/index.ts');
      await applyChannelOutcome(fenpay.fenpay.services, intent.latest_charge as string, { status: 'succeeded', reference: 'wx-late', amount: 2500n, currency: 'cny' });
      const charge = (await (await fetch(`${fenpay.url}/v1/charges/${intent.latest_charge as string}`, { headers: { authorization: `Bearer ${shop.secretKey}` } })).json()) as { paid: boolean; failure_message: string; amount_refunded: number };
      expect(charge).toMatchObject({ paid: true, failure_message: 'late_success_requires_review', amount_refunded: 0 });
      expect((await shop.stripe.paymentIntents.retrieve(intent.id)).status).toBe('canceled');
      // Booked: the money is in the merchant's balance, and it is not refunded while the setting says review.
      await new Promise((resolve) => setTimeout(resolve, 6000)); // longer than a sweep
      expect((await shop.stripe.refunds.list({ payment_intent: intent.id })).data).toHaveLength(0);
      const audit = await auditLedger(fenpay.fenpay.services.db);
      for (const total of audit.totals) expect(total.debitsPosted).toBe(total.creditsPosted);
    } finally {
      await settings({ late_success: 'refund' });
    }
  }, 30_000);

  it('refuses forged notifications and processes a replayed one once', async () => {
    const forged = await fetch(`${fenpay.url}/notify/alipay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'notify_id=forged&out_trade_no=abc&trade_status=TRADE_SUCCESS&total_amount=1.00&sign=AAAA&sign_type=RSA2',
    });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(await forged.text()).not.toBe('success');
    expect((await fetch(`${fenpay.url}/notify/nochannel`, { method: 'POST', body: 'x' })).status).toBe(404);

    // Replay every notification Fenpay has accepted: each is stored once, nothing is booked twice.
    const db = fenpay.fenpay.services.db;
    const stored = await db.selectFrom('channel_notifications').selectAll().execute();
    expect(stored.length).toBeGreaterThanOrEqual(3);
    const before = await auditLedger(db);
    for (const row of stored) {
      const replay = await fetch(`${fenpay.url}/notify/${row.channel}`, { method: 'POST', headers: row.headers, body: row.raw_body });
      expect(replay.status, `${row.channel} replay`).toBeLessThan(300);
    }
    const after = await db.selectFrom('channel_notifications').selectAll().execute();
    expect(after).toHaveLength(stored.length);
    expect(after.every((r) => r.received_count >= 2)).toBe(true);
    const audit = await auditLedger(db);
    expect(audit.totals).toEqual(before.totals);
    expect(audit.bucketMismatches).toEqual([]);
  });

  it('refuses wallet methods the intent does not allow, and unknown options', async () => {
    const error = await stripeError(
      shop.stripe.paymentIntents.create({ amount: 100, currency: 'cny', allowed_payment_method_types: ['card'], payment_method_data: { type: 'alipay' }, confirm: true }),
    );
    expect(error).toMatchObject({ statusCode: 400, code: 'payment_method_type_unsupported' });
    const option = await stripeError(
      shop.stripe.paymentIntents.create({ amount: 100, currency: 'cny', allowed_payment_method_types: ['wechat_pay'], payment_method_options: { wechat_pay: { client: 'fax' as 'web' } } }),
    );
    expect(option).toMatchObject({ statusCode: 400, param: 'payment_method_options[wechat_pay][client]' });
    // Live mode needs the merchant's own Alipay credentials; without them a live Alipay payment is refused, not left processing.
    const live = await stripeError(shop.liveStripe.paymentIntents.create({ amount: 100, currency: 'cny', allowed_payment_method_types: ['alipay'], payment_method_data: { type: 'alipay' }, confirm: true }));
    expect(live).toMatchObject({ statusCode: 400, code: 'payment_method_type_unsupported' });
  });
});
