/**
 * Paying with "Alipay", "WeChat Pay" and "UnionPay" in real Chromium on a phone-sized screen, as a payer
 * on a laptop in test mode does: follow the PaymentIntent's next action to the provider emulator's page,
 * press pay, land back at the merchant, and the intent is succeeded. Screenshots go to test/screenshots.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.ts';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../support/fenpay.ts';

const screenshots = path.resolve('test/screenshots');

describe('wallet payments in Chromium', () => {
  let env: TestFenpay;
  let shop: TestMerchant;
  let browser: Browser;
  beforeAll(async () => {
    env = await startTestFenpay({ env: { SANDBOX_CLOCK_SCALE: '600' } });
    shop = await env.createMerchant();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  const phone = () => browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, locale: 'zh-CN' });
  const succeeded = async (id: string) => {
    for (let i = 0; i < 100; i++) {
      const intent = await shop.stripe.paymentIntents.retrieve(id);
      if (intent.status === 'succeeded') return intent;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${id} did not succeed`);
  };
  const payOn = async (page: Page, button: RegExp, name: string) => {
    await page.screenshot({ path: path.join(screenshots, `${name}.png`) });
    const started = Date.now();
    await Promise.all([page.waitForURL(/\/healthz\?from=/), page.getByRole('button', { name: button }).click()]);
    return Date.now() - started;
  };

  it('Alipay (WAP): the payer approves on the cashier and returns to the shop', async () => {
    const intent = await shop.stripe.paymentIntents.create({
      amount: 8800,
      currency: 'cny',
      allowed_payment_method_types: ['alipay'],
      payment_method_data: { type: 'alipay' },
      payment_method_options: { alipay: { fenpay_flow: 'wap' } } as never,
      return_url: `${env.url}/healthz?from=alipay`,
      confirm: true,
    });
    const page = await phone();
    const opened = Date.now();
    await page.goto(intent.next_action!.alipay_handle_redirect!.url!);
    expect(await page.locator('body').innerText()).toContain('88.00');
    await payOn(page, /确认付款/, 'alipay-cashier');
    await page.close();
    expect((await succeeded(intent.id)).amount_received).toBe(8800);
    expect(Date.now() - opened).toBeLessThan(15_000);
  });

  it('WeChat Pay (H5): the payer pays on the WeChat page', async () => {
    const intent = await shop.stripe.paymentIntents.create({
      amount: 1999,
      currency: 'cny',
      allowed_payment_method_types: ['wechat_pay'],
      payment_method_data: { type: 'wechat_pay' },
      payment_method_options: { wechat_pay: { client: 'mobile' } },
      return_url: `${env.url}/healthz?from=wechat`,
      confirm: true,
    });
    expect(intent.next_action?.type).toBe('redirect_to_url');
    const page = await phone();
    await page.goto(intent.next_action!.redirect_to_url!.url!);
    expect(await page.locator('body').innerText()).toContain('19.99');
    await page.screenshot({ path: path.join(screenshots, 'wechat-pay-h5.png') });
    await page.getByRole('button', { name: /^Pay/ }).click();
    await page.close();
    expect((await succeeded(intent.id)).amount_received).toBe(1999);
  });

  it('UnionPay: the forwarding page posts the signed form; the payer approves and returns', async () => {
    const intent = await shop.stripe.paymentIntents.create({
      amount: 12000,
      currency: 'cny',
      allowed_payment_method_types: ['unionpay'],
      payment_method_data: { type: 'unionpay' },
      payment_method_options: { unionpay: { fenpay_flow: 'wap' } } as never,
      return_url: `${env.url}/healthz?from=unionpay`,
      confirm: true,
    });
    const page = await phone();
    await page.goto(intent.next_action!.redirect_to_url!.url!);
    await page.waitForURL(/\/sandbox\/unionpay\//);
    expect(await page.locator('body').innerText()).toContain('120.00');
    await page.screenshot({ path: path.join(screenshots, 'unionpay-cashier.png') });
    await page.getByRole('button', { name: /确认|Approve/ }).first().click();
    await page.close();
    expect((await succeeded(intent.id)).amount_received).toBe(12000);
  });
});
