/**
 * The hosted checkout page in real Chromium (Debian's, driven by playwright-core): a payer opens the
 * session's url, pays with a card (declines, 3-D Secure), a promotion code, Apple Pay's sandbox sheet,
 * Alipay's and WeChat Pay's QR codes through the emulators' pages, on desktop and on a 360 px phone.
 * Each success path measures page open → paid (landing on success_url) and saves screenshots to
 * test/screenshots/.
 */
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.ts';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../support/fenpay.ts';

const screenshots = path.resolve('test/screenshots');
const timings: Record<string, number> = {};

let env: TestFenpay;
let shop: TestMerchant;
let browser: Browser;

beforeAll(async () => {
  env = await startTestFenpay({ env: { SANDBOX_CLOCK_SCALE: '600' } });
  shop = await env.createMerchant({ name: 'Tea House 茶舍' });
  browser = await launchChromium();
});
afterAll(async () => {
  console.log('checkout page open → paid (ms):', JSON.stringify(timings));
  await browser?.close();
  await env?.close();
});

async function session(params: Partial<Stripe.Checkout.SessionCreateParams> = {}): Promise<Stripe.Checkout.Session> {
  return await shop.stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [
      { price_data: { currency: 'usd', unit_amount: 1999, product_data: { name: 'Oolong tea', description: '100 g' } }, quantity: 2 },
      { price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'Clay teapot' } }, quantity: 1 },
    ],
    success_url: `${env.url}/healthz?paid={CHECKOUT_SESSION_ID}`,
    cancel_url: `${env.url}/healthz?cancel=1`,
    ...params,
  });
}

function cnySession(locale: 'zh' | 'en' = 'zh'): Promise<Stripe.Checkout.Session> {
  return session({ line_items: [{ price_data: { currency: 'cny', unit_amount: 8800, product_data: { name: '龙井茶' } }, quantity: 1 }], locale });
}

const desktop = () => browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
const phone = () => browser.newPage({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' });

async function fillCard(page: Page, card: { number: string; exp?: string; cvc?: string }, labels = { number: 'Card number', exp: 'Expiry (MM / YY)', cvc: 'Security code (CVC)' }) {
  await page.getByLabel(labels.number).fill(card.number);
  await page.getByLabel(labels.exp).fill(card.exp ?? '12 / 34');
  await page.getByLabel(labels.cvc).fill(card.cvc ?? '123');
}

async function paidAt(page: Page, id: string): Promise<void> {
  await page.waitForURL((url) => url.searchParams.get('paid') === id, { timeout: 20_000 });
}

async function expectComplete(id: string, amount: number): Promise<void> {
  const done = await shop.stripe.checkout.sessions.retrieve(id);
  expect(done.status).toBe('complete');
  expect(done.payment_status).toBe('paid');
  const intent = await shop.stripe.paymentIntents.retrieve(done.payment_intent as string);
  expect(intent.status).toBe('succeeded');
  expect(intent.amount_received).toBe(amount);
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(screenshots, `checkout-${name}.png`), fullPage: true });

describe('hosted checkout in Chromium', () => {
  it('serves the page with a strict CSP, no cookies, and under 60 KB of compressed script', async () => {
    const s = await session();
    const response = await fetch(s.url!);
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/script-src 'nonce-[^']+'/);
    expect(response.headers.get('set-cookie')).toBeNull();
    const html = await response.text();
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    const src = /<script nonce="[^"]+" src="([^"]+)"/.exec(html)![1]!;
    const script = await fetch(`${env.url}${src}`, { headers: { 'accept-encoding': 'gzip' } });
    const raw = Buffer.from(await script.arrayBuffer());
    expect(gzipSync(raw).length).toBeLessThan(60 * 1024);
  });

  it('card success: the payer pays and lands on success_url with the session id', async () => {
    const s = await session();
    const page = await desktop();
    // Card data goes only in request bodies to Fenpay, never in a URL, and to no other host.
    const requests: { url: string; host: string }[] = [];
    page.on('request', (request) => requests.push({ url: request.url(), host: new URL(request.url()).host }));
    const opened = Date.now();
    await page.goto(s.url!);
    await expect.poll(() => page.getByTestId('total').innerText()).toBe('$44.98');
    await page.getByLabel('Email').fill('buyer@example.com');
    await fillCard(page, { number: '4242 4242 4242 4242' });
    expect(await page.locator('#cc-brand').textContent()).toBe('Visa');
    await shot(page, 'card-desktop');
    await page.getByRole('button', { name: /^Pay \$44\.98/ }).click();
    await paidAt(page, s.id);
    timings.card = Date.now() - opened;
    await expectComplete(s.id, 4498);
    expect(requests.filter((r) => /4242\D?4242/.test(decodeURIComponent(r.url)))).toEqual([]);
    expect(new Set(requests.map((r) => r.host))).toEqual(new Set([new URL(s.url!).host]));
    await page.close();
  });

  it('checks the card form in the browser: Luhn, expiry and CVC, with labelled errors', async () => {
    const s = await session({ customer_email: 'a@example.com' });
    const page = await desktop();
    await page.goto(s.url!);
    await fillCard(page, { number: '4242 4242 4242 4241', exp: '01 / 20', cvc: '1' });
    await page.locator('#pay-button').click();
    await expect.poll(() => page.locator('#cc-number-error').innerText()).toBe('Enter a valid card number.');
    expect(await page.getByLabel('Card number').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#cc-exp-error').innerText()).toContain('expiry');
    expect(await page.locator('#cc-csc-error').innerText()).toContain('security code');
    // Amex: brand detected as typed, 4-6-5 grouping, 4-digit CVC.
    await page.getByLabel('Card number').fill('378282246310005');
    expect(await page.getByLabel('Card number').inputValue()).toBe('3782 822463 10005');
    expect(await page.locator('#cc-brand').textContent()).toBe('Amex');
    // Standard autocomplete tokens so browser autofill works.
    expect(await page.getByLabel('Card number').getAttribute('autocomplete')).toBe('cc-number');
    expect(await page.getByLabel('Expiry (MM / YY)').getAttribute('autocomplete')).toBe('cc-exp');
    expect(await page.getByLabel('Security code (CVC)').getAttribute('autocomplete')).toBe('cc-csc');
    await shot(page, 'card-errors');
    expect(await shop.stripe.paymentIntents.list({ limit: 100 }).then((l) => l.data.filter((pi) => pi.receipt_email === 'a@example.com'))).toHaveLength(0);
    await page.close();
  });

  it('decline then success with another card, without losing the order', async () => {
    const s = await session({ customer_email: 'decline@example.com' });
    const page = await desktop();
    const opened = Date.now();
    await page.goto(s.url!);
    await fillCard(page, { number: '4000 0000 0000 9995' });
    await page.locator('#pay-button').click();
    await expect.poll(() => page.getByRole('alert').first().innerText()).toContain('insufficient funds');
    await shot(page, 'declined');
    await fillCard(page, { number: '5555 5555 5555 4444' });
    await page.getByRole('button', { name: /^Pay \$44\.98/ }).click();
    await paidAt(page, s.id);
    timings.decline_then_card = Date.now() - opened;
    await expectComplete(s.id, 4498);
    await page.close();
  });

  it('3-D Secure approved: the payer completes the challenge and comes back paid', async () => {
    const s = await session({ customer_email: '3ds@example.com' });
    const page = await desktop();
    const opened = Date.now();
    await page.goto(s.url!);
    await fillCard(page, { number: '4000 0027 6000 3184' });
    await page.locator('#pay-button').click();
    await page.waitForURL(/\/sandbox\/cards\/3ds\//);
    await shot(page, '3ds-challenge');
    await page.getByRole('button', { name: /Complete authentication/ }).click();
    await paidAt(page, s.id);
    timings.three_d_secure = Date.now() - opened;
    await expectComplete(s.id, 4498);
    await page.close();
  });

  it('3-D Secure failed: back on the page with a specific message, then paid with another card', async () => {
    const s = await session({ customer_email: '3dsfail@example.com' });
    const page = await desktop();
    await page.goto(s.url!);
    await fillCard(page, { number: '4000 0027 6000 3184' });
    await page.locator('#pay-button').click();
    await page.waitForURL(/\/sandbox\/cards\/3ds\//);
    await page.getByRole('button', { name: /Fail authentication/ }).click();
    await page.waitForURL(new RegExp(`/c/pay/${s.id}$`));
    await expect.poll(() => page.locator('#status').innerText()).toContain('3-D Secure');
    await shot(page, '3ds-failed');
    await fillCard(page, { number: '4242 4242 4242 4242' });
    await page.locator('#pay-button').click();
    await paidAt(page, s.id);
    await expectComplete(s.id, 4498);
    await page.close();
  });

  it('promotion code: an invalid one is refused, a valid one lowers the total that is charged (zh-CN)', async () => {
    const coupon = await shop.stripe.coupons.create({ percent_off: 20, duration: 'once' });
    await shop.stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'SPRING20' });
    const s = await session({ allow_promotion_codes: true, customer_email: 'promo@example.com', locale: 'zh' });
    const page = await desktop();
    const opened = Date.now();
    await page.goto(s.url!);
    await page.getByLabel('优惠码').fill('WRONG');
    await page.getByRole('button', { name: '使用', exact: true }).click();
    await expect.poll(() => page.locator('#promo-error').innerText()).toBe('该优惠码无效。');
    await page.getByLabel('优惠码').fill('spring20');
    await page.getByRole('button', { name: '使用', exact: true }).click();
    await expect.poll(() => page.locator('#total').innerText()).toBe('$35.98');
    expect(await page.locator('#discount').innerText()).toBe('−$9.00');
    await shot(page, 'promo-applied-zh');
    await fillCard(page, { number: '4242424242424242' }, { number: '卡号', exp: '有效期（月 / 年）', cvc: '安全码（CVC）' });
    await page.getByRole('button', { name: /^支付 \$35\.98/ }).click();
    await paidAt(page, s.id);
    timings.promotion_code = Date.now() - opened;
    await expectComplete(s.id, 3598);
    await page.close();
  });

  it('Apple Pay: the sandbox wallet sheet returns a test card and the payment succeeds', async () => {
    const s = await session({ customer_email: 'wallet@example.com' });
    const page = await desktop();
    const opened = Date.now();
    await page.goto(s.url!);
    await page.getByRole('button', { name: 'Pay with Apple Pay' }).click();
    await expect.poll(() => page.getByRole('dialog').isVisible()).toBe(true);
    await shot(page, 'wallet-sheet');
    await page.getByRole('dialog').getByRole('button', { name: 'Pay' }).click();
    await paidAt(page, s.id);
    timings.apple_pay_sandbox = Date.now() - opened;
    await expectComplete(s.id, 4498);
    await page.close();
  });

  it('session expired: the page says so instead of taking the payment', async () => {
    const s = await session({ customer_email: 'late@example.com' });
    const page = await desktop();
    await page.goto(s.url!);
    await shop.stripe.checkout.sessions.expire(s.id);
    await fillCard(page, { number: '4242 4242 4242 4242' });
    await page.locator('#pay-button').click();
    await expect.poll(() => page.locator('#status').innerText()).toContain('expired');
    await shot(page, 'expired-while-open');
    await page.reload();
    expect(await page.locator('h1').innerText()).toBe('This checkout has expired');
    await page.close();
  });

  it('shows the countdown to expiry', async () => {
    const s = await session({ expires_at: Math.floor(Date.now() / 1000) + 1800 });
    const page = await desktop();
    await page.goto(s.url!);
    await expect.poll(() => page.locator('#countdown').innerText()).toMatch(/^(30:00|29:\d\d)$/);
    await page.close();
  });

  it('Alipay QR on desktop: the payer "scans" (opens the emulator cashier), approves, and the page completes', async () => {
    const s = await cnySession();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const opened = Date.now();
    await page.goto(s.url!);
    await page.getByLabel('电子邮箱').fill('alipay@example.com');
    await page.getByLabel('支付宝').check();
    await page.getByRole('button', { name: /^支付 ¥88\.00/ }).click();
    await expect.poll(() => page.locator('#qr-panel').isVisible()).toBe(true);
    expect(await page.locator('#qr-image').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    await shot(page, 'alipay-qr');
    const cashier = await browser.newPage({ viewport: { width: 390, height: 844 }, locale: 'zh-CN' });
    await cashier.goto((await page.locator('#qr-link').getAttribute('href'))!);
    await cashier.getByRole('button', { name: /确认付款/ }).click();
    await paidAt(page, s.id);
    timings.alipay_qr = Date.now() - opened;
    await expectComplete(s.id, 8800);
    await cashier.close();
    await page.close();
  });

  it('WeChat Pay QR on desktop: the payer pays on the scan page and the page completes', async () => {
    const s = await cnySession();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const opened = Date.now();
    await page.goto(s.url!);
    await page.getByLabel('电子邮箱').fill('wechat@example.com');
    await page.getByLabel('微信支付').check();
    await page.locator('#pay-button').click();
    await expect.poll(() => page.locator('#qr-panel').isVisible()).toBe(true);
    await shot(page, 'wechat-qr');
    const scan = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await scan.goto((await page.locator('#qr-link').getAttribute('href'))!);
    await scan.getByRole('button', { name: /^Pay/ }).click();
    await paidAt(page, s.id);
    timings.wechat_qr = Date.now() - opened;
    await expectComplete(s.id, 8800);
    await scan.close();
    await page.close();
  });

  it('switching from a QR code to a card closes the wallet payment and pays by card once', async () => {
    const s = await cnySession('en');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    await page.goto(s.url!);
    await page.getByLabel('Email').fill('switch@example.com');
    await page.getByLabel('WeChat Pay').check();
    await page.locator('#pay-button').click();
    await expect.poll(() => page.locator('#qr-panel').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Use another payment method' }).click();
    await page.getByLabel('Card', { exact: true }).check();
    await fillCard(page, { number: '4242 4242 4242 4242' });
    await page.getByRole('button', { name: /^Pay ¥88\.00/ }).click();
    await paidAt(page, s.id);
    await expectComplete(s.id, 8800);
    await page.close();
  });

  it('mobile 360 px: no horizontal scrolling, Chinese from the browser, card payment succeeds', async () => {
    const s = await session({ customer_email: 'phone@example.com' });
    const page = await phone();
    const opened = Date.now();
    await page.goto(s.url!);
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    await shot(page, 'mobile-360');
    await fillCard(page, { number: '4242424242424242' }, { number: '卡号', exp: '有效期（月 / 年）', cvc: '安全码（CVC）' });
    await page.locator('#pay-button').tap();
    await paidAt(page, s.id);
    timings.mobile_card = Date.now() - opened;
    await expectComplete(s.id, 4498);
    await page.close();
  });

  it('is usable with the keyboard alone', async () => {
    const s = await session({ customer_email: 'keys@example.com' });
    const page = await desktop();
    await page.goto(s.url!);
    await page.getByLabel('Card number').focus();
    await page.keyboard.type('4242424242424242');
    await page.keyboard.press('Tab');
    await page.keyboard.type('1234');
    await page.keyboard.press('Tab');
    await page.keyboard.type('123');
    await page.keyboard.press('Enter');
    await paidAt(page, s.id);
    await expectComplete(s.id, 4498);
    await page.close();
  });

  it('concurrent double submit from the page pays once', async () => {
    const s = await session({ customer_email: 'double@example.com' });
    const page = await desktop();
    await page.goto(s.url!);
    // Several submits at once, past the button's own guard: straight at the page's API with the page's secret.
    const data = JSON.parse((await page.locator('#fp-data').textContent())!) as { sessionId: string; secret: string };
    const call = async (path: string, body: unknown) => {
      const response = await fetch(`${env.url}/c/api/${data.sessionId}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-checkout-secret': data.secret }, body: JSON.stringify(body) });
      return (await response.json()) as { id?: string; status?: string; error?: { code: string } };
    };
    const pms = await Promise.all([0, 1, 2].map(() => call('payment_methods', { number: '4242424242424242', exp_month: 12, exp_year: 2040, cvc: '123' })));
    const results = await Promise.all(pms.map((pm) => call('pay', { method: 'card', payment_method: pm.id })));
    const statuses = results.map((r) => r.status ?? r.error?.code ?? 'unknown');
    expect(statuses).toContain('complete');
    const intents = await env.database.db.selectFrom('payment_intents').select(['id']).where('receipt_email', '=', 'double@example.com').execute();
    const succeeded = await env.database.db.selectFrom('payment_attempts').select('id').where('payment_intent_id', 'in', intents.map((i) => i.id)).where('status', '=', 'succeeded').execute();
    expect(succeeded).toHaveLength(1);
    await page.close();
  });
});
