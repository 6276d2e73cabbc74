/**
 * The 3-D Secure challenge page in real Chromium, on a phone-sized screen: a payer completes or fails
 * the challenge, lands on the merchant's return URL, and the PaymentIntent moves on.
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../../test/support/browser.ts';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../../../../test/support/fenpay.ts';

const screenshots = path.resolve('test/screenshots');

describe('3-D Secure challenge page in Chromium', () => {
  let env: TestFenpay;
  let shop: TestMerchant;
  let browser: Browser;
  beforeAll(async () => {
    env = await startTestFenpay();
    shop = await env.createMerchant();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  async function challenge(captureMethod: 'automatic' | 'manual') {
    const intent = await shop.stripe.paymentIntents.create({
      amount: 4200,
      currency: 'eur',
      payment_method: 'pm_card_threeDSecure2Required',
      capture_method: captureMethod,
      confirm: true,
      return_url: `${env.url}/healthz?from=3ds`,
    });
    expect(intent.status).toBe('requires_action');
    expect(intent.next_action?.type).toBe('redirect_to_url');
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await page.goto(intent.next_action!.redirect_to_url!.url!);
    return { intent, page };
  }

  it('approves: the payer completes authentication and the payment succeeds', async () => {
    const { intent, page } = await challenge('automatic');
    const text = await page.locator('body').innerText();
    expect(text).toMatch(/42[.,]00/);
    expect(text).toContain('3155');
    await page.screenshot({ path: path.join(screenshots, '3ds-challenge.png') });
    await Promise.all([page.waitForURL(/\/healthz\?from=3ds/), page.getByRole('button', { name: /Complete authentication/ }).click()]);
    await page.close();
    const after = await shop.stripe.paymentIntents.retrieve(intent.id);
    expect(after.status).toBe('succeeded');
    expect(after.amount_received).toBe(4200);
  });

  it('fails: the payer fails authentication and the intent asks for another payment method', async () => {
    const { intent, page } = await challenge('manual');
    await Promise.all([page.waitForURL(/\/healthz\?from=3ds/), page.getByRole('button', { name: /Fail authentication/ }).click()]);
    await page.close();
    const after = await shop.stripe.paymentIntents.retrieve(intent.id);
    expect(after.status).toBe('requires_payment_method');
    expect(after.last_payment_error?.code).toBe('payment_intent_authentication_failure');
  });

  it('shows a clear page for an unknown challenge', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${env.url}/sandbox/cards/3ds/sca_doesnotexist`);
    expect(response?.status()).toBe(404);
    await page.close();
  });
});
