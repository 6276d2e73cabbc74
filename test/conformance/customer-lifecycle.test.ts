/**
 * What happens to PaymentMethods when their customer changes: detaching clears a default, deleting a
 * customer detaches its PaymentMethods; plus wrong-mode 404s for every object kind, and scalars only
 * where Stripe takes scalars.
 */
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../support/fenpay.ts';
import { expectStripeError, rawRequest, sdkFailure } from './stripe-shape.ts';

const { StripeInvalidRequestError } = Stripe.errors;

let env: TestFenpay;
let shop: TestMerchant;
const year = new Date().getUTCFullYear() + 2;

beforeAll(async () => {
  env = await startTestFenpay();
  shop = await env.createMerchant({ handlesCardData: true });
});
afterAll(async () => {
  await env?.close();
});

describe("a customer's PaymentMethods", () => {
  it('clears the default payment method when that PaymentMethod is detached', async () => {
    const pm = await shop.stripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: year } });
    const customer = await shop.stripe.customers.create({ payment_method: pm.id, invoice_settings: { default_payment_method: pm.id } });
    expect(customer.invoice_settings.default_payment_method).toBe(pm.id);
    await shop.stripe.paymentMethods.detach(pm.id);
    const after = (await shop.stripe.customers.retrieve(customer.id)) as Stripe.Customer;
    expect(after.invoice_settings.default_payment_method).toBeNull();
  });

  it('detaches every PaymentMethod of a deleted customer, with events', async () => {
    const customer = await shop.stripe.customers.create({ email: 'leaving@example.com' });
    const pms = await Promise.all(
      ['4242424242424242', '5555555555554444'].map(async (number) => {
        const pm = await shop.stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 6, exp_year: year } });
        return await shop.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
      }),
    );
    const deleted = await shop.stripe.customers.del(customer.id);
    expect(deleted).toMatchObject({ id: customer.id, deleted: true });
    for (const pm of pms) expect((await shop.stripe.paymentMethods.retrieve(pm.id)).customer).toBeNull();
    const events = await shop.stripe.events.list({ type: 'payment_method.detached', limit: 10 });
    const detached = events.data.map((e) => (e.data.object as { id: string }).id);
    for (const pm of pms) expect(detached).toContain(pm.id);
    // The PaymentMethods can be used again on their own.
    const intent = await shop.stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: pms[0]!.id, confirm: true });
    expect(intent.status).toBe('succeeded');
  });
});

describe('wrong-mode keys', () => {
  it('answers 404 saying the customer, PaymentMethod and refund exist in the other mode', async () => {
    const customer = await shop.liveStripe.customers.create({ email: 'live@example.com' });
    const pm = await shop.liveStripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: year } });
    const testIntent = await shop.stripe.paymentIntents.create({ amount: 5000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const refund = await shop.stripe.refunds.create({ payment_intent: testIntent.id, amount: 100 });

    // One call at a time: a call started before the previous one is awaited could reject unobserved.
    for (const [call, kind] of [
      [() => shop.stripe.customers.retrieve(customer.id), 'customer'],
      [() => shop.stripe.paymentMethods.retrieve(pm.id), 'PaymentMethod'],
      [() => shop.liveStripe.refunds.retrieve(refund.id), 'refund'],
    ] as const) {
      const error = await sdkFailure(call(), StripeInvalidRequestError);
      expect(error.statusCode).toBe(404);
      expect(error.code).toBe('resource_missing');
      expect(error.message).toContain(`No such ${kind}`);
      expect(error.message).toMatch(/exists in (live|test) mode/);
    }
  });
});

describe('scalars', () => {
  it('refuses an array where Stripe takes a single value', async () => {
    const form = await rawRequest(env.url, { method: 'POST', path: '/v1/payment_intents', key: shop.secretKey, contentType: 'application/x-www-form-urlencoded', body: 'amount[0]=100&currency=usd' });
    expect(form.status).toBe(400);
    expectStripeError(form.body, { type: 'invalid_request_error', param: 'amount' });
    const json = await rawRequest(env.url, { method: 'POST', path: '/v1/payment_intents', key: shop.secretKey, contentType: 'application/json', body: JSON.stringify({ amount: [100], currency: 'usd' }) });
    expect(json.status).toBe(400);
    expectStripeError(json.body, { type: 'invalid_request_error', param: 'amount' });
  });
});

describe('refunds beyond the available balance', () => {
  it('names the currency and the amount when the balance cannot fund a refund', async () => {
    const other = await env.createMerchant();
    const intent = await other.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const error = await sdkFailure(other.stripe.refunds.create({ payment_intent: intent.id }), StripeInvalidRequestError);
    expect(error.code).toBe('balance_insufficient');
    expect(error.param).toBe('amount');
    expect(error.message).toContain('USD');
    // What the balance can fund still works.
    const refund = await other.stripe.refunds.create({ payment_intent: intent.id, amount: 971 });
    expect(refund.status).toBe('succeeded');
    const balance = await other.stripe.balance.retrieve();
    expect(balance.available).toEqual([expect.objectContaining({ currency: 'usd', amount: 0 })]);
  });
});
