/**
 * PaymentMethods and Customers through the official stripe SDK over real HTTP: card tokenization (test
 * numbers, test ids, live mode rules, publishable keys), attach/detach, both list routes, Customer CRUD.
 */
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../support/fenpay.ts';
import { expectStripeError, expectStripeShape, rawRequest, sdkFailure } from './stripe-shape.ts';

const { StripeCardError, StripeInvalidRequestError, StripeAuthenticationError, StripePermissionError } = Stripe.errors;

let env: TestFenpay;
let shop: TestMerchant;
const nextYear = new Date().getUTCFullYear() + 1;

beforeAll(async () => {
  env = await startTestFenpay();
  shop = await env.createMerchant();
});

afterAll(async () => {
  await env?.close();
});

function card(number: string, extra: Partial<{ exp_month: number; exp_year: number; cvc: string }> = {}): Stripe.PaymentMethodCreateParams {
  return { type: 'card', card: { number, exp_month: 12, exp_year: nextYear, cvc: '314', ...extra } };
}

describe('creating PaymentMethods', () => {
  it('tokenizes a test card into a Stripe-shaped card PaymentMethod that never echoes the number', async () => {
    const pm = await shop.stripe.paymentMethods.create({
      ...card('4242 4242 4242 4242'),
      billing_details: { name: 'Jenny Rosen', email: 'jenny@example.com', address: { country: 'US', postal_code: '94102' } },
      metadata: { order_id: '6735' },
    });
    expectStripeShape('payment_method', pm);
    expect(pm.type).toBe('card');
    expect(pm.livemode).toBe(false);
    expect(pm.customer).toBeNull();
    expect(pm.card).toMatchObject({ brand: 'visa', last4: '4242', exp_month: 12, exp_year: nextYear, funding: 'credit' });
    expect(pm.billing_details.name).toBe('Jenny Rosen');
    expect(pm.billing_details.email).toBe('jenny@example.com');
    expect(pm.billing_details.address?.postal_code).toBe('94102');
    expect(pm.metadata).toEqual({ order_id: '6735' });
    expect(JSON.stringify(pm)).not.toContain('4242424242424242');
    // The CVC is never stored or echoed (checked as a JSON string: a bare 314 can occur inside `created`).
    expect(JSON.stringify(pm)).not.toContain('"314"');
    expect(JSON.stringify(pm)).not.toMatch(/"cvc"\s*:/);

    const fetched = await shop.stripe.paymentMethods.retrieve(pm.id);
    const { lastResponse: _a, ...created } = pm;
    const { lastResponse: _b, ...read } = fetched;
    expect(read).toEqual(created);
  });

  it('gives the same card the same fingerprint and a different card a different one', async () => {
    const a = await shop.stripe.paymentMethods.create(card('4242424242424242'));
    const b = await shop.stripe.paymentMethods.create(card('4242-4242-4242-4242', { exp_month: 3 }));
    const c = await shop.stripe.paymentMethods.create(card('5555555555554444'));
    expect(a.id).not.toBe(b.id);
    expect(a.card?.fingerprint).toBeTruthy();
    expect(a.card?.fingerprint).toBe(b.card?.fingerprint);
    expect(c.card?.fingerprint).not.toBe(a.card?.fingerprint);
  });

  it.each([
    ['5555555555554444', 'mastercard', '4444'],
    ['378282246310005', 'amex', '0005'],
    ['3566002020360505', 'jcb', '0505'],
    ['6200000000000005', 'unionpay', '0005'],
  ])('detects the brand of %s as %s', async (number, brand, last4) => {
    const pm = await shop.stripe.paymentMethods.create(card(number, { cvc: brand === 'amex' ? '1234' : '123' }));
    expect(pm.card?.brand).toBe(brand);
    expect(pm.card?.last4).toBe(last4);
  });

  it('refuses a number that fails the Luhn check as incorrect_number on card[number]', async () => {
    const error = await sdkFailure(shop.stripe.paymentMethods.create(card('4242424242424241')), StripeCardError);
    expect(error.statusCode).toBe(402);
    expect(error.code).toBe('incorrect_number');
    expect(error.param).toBe('card[number]');
  });

  it('refuses an impossible expiry month and a past expiry year, naming the field', async () => {
    const month = await sdkFailure(shop.stripe.paymentMethods.create(card('4242424242424242', { exp_month: 13 })), StripeCardError);
    expect(month.code).toBe('invalid_expiry_month');
    expect(month.param).toBe('card[exp_month]');
    const year = await sdkFailure(shop.stripe.paymentMethods.create(card('4242424242424242', { exp_year: 2001 })), StripeCardError);
    expect(year.code).toBe('invalid_expiry_year');
    expect(year.param).toBe('card[exp_year]');
  });

  it('refuses a PaymentMethod type it cannot create, and a card PaymentMethod without card details', async () => {
    const type = await sdkFailure(shop.stripe.paymentMethods.create({ type: 'sepa_debit' }), StripeInvalidRequestError);
    expect(type.param).toBe('type');
    // Wallet types carry no card data: test mode creates them, live mode refuses them until the merchant has credentials.
    expect((await shop.stripe.paymentMethods.create({ type: 'alipay' })).type).toBe('alipay');
    const missing = await sdkFailure(shop.stripe.paymentMethods.create({ type: 'card' }), StripeInvalidRequestError);
    expect(missing.param).toBe('card');
    const number = await sdkFailure(shop.stripe.paymentMethods.create({ type: 'card', card: { exp_month: 1, exp_year: nextYear } }), StripeInvalidRequestError);
    expect(number.code).toBe('parameter_missing');
    expect(number.param).toBe('card[number]');
  });

  it('lets a publishable key create a PaymentMethod but not read it back', async () => {
    const browser = env.stripeFor(shop.publishableKey);
    const pm = await browser.paymentMethods.create(card('4242424242424242'));
    expectStripeShape('payment_method', pm);
    const refused = await sdkFailure(browser.paymentMethods.retrieve(pm.id), StripeAuthenticationError);
    expect(refused.statusCode).toBe(401);
    expect(refused.message).toMatch(/publishable/i);
    const read = await shop.stripe.paymentMethods.retrieve(pm.id);
    expect(read.id).toBe(pm.id);
  });

  it('refuses raw card numbers in live mode unless the merchant handles card data', async () => {
    const error = await sdkFailure(shop.liveStripe.paymentMethods.create(card('4242424242424242')), StripePermissionError);
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe('card_data_not_allowed');

    const processor = await env.createMerchant({ handlesCardData: true });
    const pm = await processor.liveStripe.paymentMethods.create(card('4242424242424242'));
    expectStripeShape('payment_method', pm);
    expect(pm.livemode).toBe(true);
    const livePi = await processor.liveStripe.paymentIntents.create({ amount: 500, currency: 'usd', payment_method: pm.id });
    expect(livePi.livemode).toBe(true);
    expect(livePi.status).toBe('requires_confirmation');
    expect(livePi.payment_method).toBe(pm.id);
  });

  it('refuses Stripe test PaymentMethod ids in live mode', async () => {
    const processor = await env.createMerchant({ handlesCardData: true });
    const error = await sdkFailure(processor.liveStripe.paymentIntents.create({ amount: 500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }), StripeInvalidRequestError);
    expect(error.statusCode).toBe(404);
    expect(error.param).toBe('payment_method');
    expect((await processor.liveStripe.paymentIntents.list()).data).toHaveLength(0);
  });

  it('answers 404 for an unknown PaymentMethod id', async () => {
    const error = await sdkFailure(shop.stripe.paymentMethods.retrieve('pm_missing00000000000000000'), StripeInvalidRequestError);
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe('resource_missing');
  });
});

describe('attaching and detaching PaymentMethods', () => {
  it('attaches a PaymentMethod to a customer, lists it on both list routes, and detaches it', async () => {
    const customer = await shop.stripe.customers.create({ name: 'Attach Me' });
    const pm = await shop.stripe.paymentMethods.create(card('4242424242424242'));
    const attached = await shop.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    expectStripeShape('payment_method', attached);
    expect(attached.customer).toBe(customer.id);

    const viaQuery = await shop.stripe.paymentMethods.list({ customer: customer.id, type: 'card' });
    expectStripeShape('list', viaQuery);
    expect(viaQuery.data.map((p) => p.id)).toEqual([pm.id]);
    const viaCustomer = await shop.stripe.customers.listPaymentMethods(customer.id);
    expect(viaCustomer.data.map((p) => p.id)).toEqual([pm.id]);
    expect(viaCustomer.url).toBe(`/v1/customers/${customer.id}/payment_methods`);
    expect(viaCustomer.data[0]?.customer).toBe(customer.id);

    const events = await shop.stripe.events.list({ type: 'payment_method.attached' });
    expect(events.data.some((e) => (e.data.object as { id: string }).id === pm.id)).toBe(true);

    const detached = await shop.stripe.paymentMethods.detach(pm.id);
    expect(detached.customer).toBeNull();
    expect((await shop.stripe.customers.listPaymentMethods(customer.id)).data).toHaveLength(0);
    expect((await shop.stripe.paymentMethods.retrieve(pm.id)).customer).toBeNull();
  });

  it('refuses to detach a PaymentMethod that is not attached', async () => {
    const pm = await shop.stripe.paymentMethods.create(card('4242424242424242'));
    const error = await sdkFailure(shop.stripe.paymentMethods.detach(pm.id), StripeInvalidRequestError);
    expect(error.code).toBe('payment_method_unexpected_state');
  });

  it('refuses to attach a PaymentMethod attached to another customer, and to an unknown customer', async () => {
    const first = await shop.stripe.customers.create({});
    const second = await shop.stripe.customers.create({});
    const pm = await shop.stripe.paymentMethods.create(card('4242424242424242'));
    await shop.stripe.paymentMethods.attach(pm.id, { customer: first.id });
    const taken = await sdkFailure(shop.stripe.paymentMethods.attach(pm.id, { customer: second.id }), StripeInvalidRequestError);
    expect(taken.code).toBe('payment_method_unexpected_state');
    expect((await shop.stripe.paymentMethods.retrieve(pm.id)).customer).toBe(first.id);

    const other = await shop.stripe.paymentMethods.create(card('4242424242424242'));
    const unknown = await sdkFailure(shop.stripe.paymentMethods.attach(other.id, { customer: 'cus_nobody0000000000000000' }), StripeInvalidRequestError);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.param).toBe('customer');
  });

  it('requires a customer to list PaymentMethods and answers 404 for an unknown one', async () => {
    const missing = await rawRequest(env.url, { path: '/v1/payment_methods', key: shop.secretKey });
    expect(missing.status).toBe(400);
    expectStripeError(missing.body, { code: 'parameter_missing', param: 'customer' });
    const unknown = await sdkFailure(shop.stripe.customers.listPaymentMethods('cus_nobody0000000000000000'), StripeInvalidRequestError);
    expect(unknown.statusCode).toBe(404);
  });

  it('charges a saved PaymentMethod only together with its customer', async () => {
    const customer = await shop.stripe.customers.create({ email: 'saved@example.com' });
    const pm = await shop.stripe.paymentMethods.create(card('5555555555554444'));
    await shop.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    const refused = await sdkFailure(shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', payment_method: pm.id, confirm: true }), StripeInvalidRequestError);
    expect(refused.code).toBe('payment_method_unexpected_state');
    expect(refused.param).toBe('payment_method');
    const pi = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', customer: customer.id, payment_method: pm.id, confirm: true });
    expect(pi.status).toBe('succeeded');
    expect(pi.customer).toBe(customer.id);
    expect(pi.payment_method).toBe(pm.id);
  });

  it('attaches the PaymentMethod given when creating a customer', async () => {
    const pm = await shop.stripe.paymentMethods.create(card('4242424242424242'));
    const customer = await shop.stripe.customers.create({ payment_method: pm.id, invoice_settings: { default_payment_method: pm.id } });
    expect(customer.invoice_settings.default_payment_method).toBe(pm.id);
    expect((await shop.stripe.paymentMethods.retrieve(pm.id)).customer).toBe(customer.id);
    expect((await shop.stripe.customers.listPaymentMethods(customer.id)).data.map((p) => p.id)).toEqual([pm.id]);
    const attached = await shop.stripe.events.list({ type: 'payment_method.attached' });
    expect(attached.data.some((e) => (e.data.object as { id: string; customer: string }).customer === customer.id)).toBe(true);

    const taken = await sdkFailure(shop.stripe.customers.create({ payment_method: pm.id }), StripeInvalidRequestError);
    expect(taken.param).toBe('payment_method');
    const unknown = await sdkFailure(shop.stripe.customers.create({ payment_method: 'pm_missing00000000000000000' }), StripeInvalidRequestError);
    expect(unknown.statusCode).toBe(404);
    const onUpdate = await rawRequest(env.url, { method: 'POST', path: `/v1/customers/${customer.id}`, key: shop.secretKey, contentType: 'application/x-www-form-urlencoded', body: `payment_method=${pm.id}` });
    expect(onUpdate.status).toBe(400);
    expectStripeError(onUpdate.body, { code: 'parameter_unknown', param: 'payment_method' });
  });
});

describe('Customers', () => {
  it('creates, retrieves and updates a customer with Stripe\'s shape', async () => {
    const customer = await shop.stripe.customers.create({
      email: 'jenny@example.com',
      name: 'Jenny Rosen',
      phone: '+15555555555',
      description: 'VIP',
      address: { line1: '1 Main St', city: 'Springfield', country: 'US', postal_code: '12345' },
      metadata: { crm_id: '42' },
    });
    expectStripeShape('customer', customer);
    expect(customer).toMatchObject({ email: 'jenny@example.com', name: 'Jenny Rosen', phone: '+15555555555', description: 'VIP', livemode: false, metadata: { crm_id: '42' } });
    expect(customer.address).toMatchObject({ line1: '1 Main St', city: 'Springfield', country: 'US', postal_code: '12345' });

    const fetched = await shop.stripe.customers.retrieve(customer.id);
    expectStripeShape('customer', fetched);
    expect((fetched as Stripe.Customer).email).toBe('jenny@example.com');

    const updated = await shop.stripe.customers.update(customer.id, { email: 'jr@example.com', description: '', metadata: { tier: 'gold' } });
    expect(updated.email).toBe('jr@example.com');
    expect(updated.description).toBeNull();
    expect(updated.metadata).toEqual({ crm_id: '42', tier: 'gold' });
    expect(updated.name).toBe('Jenny Rosen');

    const events = await shop.stripe.events.list({ type: 'customer.updated' });
    const event = events.data.find((e) => (e.data.object as { id: string }).id === customer.id);
    expect(event?.data.previous_attributes).toMatchObject({ email: 'jenny@example.com', description: 'VIP' });
  });

  it('deletes a customer: the answer says deleted, retrieve shows it deleted, lists and updates no longer see it', async () => {
    const customer = await shop.stripe.customers.create({ email: 'gone@example.com' });
    const deleted = await shop.stripe.customers.del(customer.id);
    expect(deleted).toMatchObject({ id: customer.id, object: 'customer', deleted: true });
    const fetched = await shop.stripe.customers.retrieve(customer.id);
    expect(fetched.deleted).toBe(true);
    const listed = await shop.stripe.customers.list({ email: 'gone@example.com' });
    expect(listed.data).toHaveLength(0);
    const update = await sdkFailure(shop.stripe.customers.update(customer.id, { name: 'x' }), StripeInvalidRequestError);
    expect(update.statusCode).toBe(404);
    const again = await sdkFailure(shop.stripe.customers.del(customer.id), StripeInvalidRequestError);
    expect(again.statusCode).toBe(404);
    const pay = await sdkFailure(shop.stripe.paymentIntents.create({ amount: 100, currency: 'usd', customer: customer.id }), StripeInvalidRequestError);
    expect(pay.param).toBe('customer');
  });

  it('lists customers newest first and filters by email', async () => {
    const merchant = await env.createMerchant();
    const a = await merchant.stripe.customers.create({ email: 'a@example.com' });
    const b = await merchant.stripe.customers.create({ email: 'b@example.com' });
    const list = await merchant.stripe.customers.list();
    expectStripeShape('list', list);
    expect(list.url).toBe('/v1/customers');
    expect(new Set(list.data.map((c) => c.id))).toEqual(new Set([a.id, b.id]));
    for (const c of list.data) expectStripeShape('customer', c);
    const filtered = await merchant.stripe.customers.list({ email: 'b@example.com' });
    expect(filtered.data.map((c) => c.id)).toEqual([b.id]);
  });

  it('refuses an email address without an @, naming email', async () => {
    const error = await sdkFailure(shop.stripe.customers.create({ email: 'not-an-email' }), StripeInvalidRequestError);
    expect(error.param).toBe('email');
  });

  it('refuses a default payment method that is not one of the customer\'s PaymentMethods', async () => {
    const customer = await shop.stripe.customers.create({});
    const error = await sdkFailure(shop.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: 'pm_missing00000000000000000' } }), StripeInvalidRequestError);
    expect(error.param).toBe('invoice_settings[default_payment_method]');
    const loose = await shop.stripe.paymentMethods.create(card('4242424242424242'));
    const notAttached = await sdkFailure(shop.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: loose.id } }), StripeInvalidRequestError);
    expect(notAttached.param).toBe('invoice_settings[default_payment_method]');
    expect((await shop.stripe.customers.retrieve(customer.id) as Stripe.Customer).invoice_settings.default_payment_method).toBeNull();
  });

  it('answers 404 for an unknown customer', async () => {
    const error = await sdkFailure(shop.stripe.customers.retrieve('cus_missing0000000000000000'), StripeInvalidRequestError);
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe('resource_missing');
  });
});
