/**
 * The wire protocol around the endpoints: authentication (Bearer, Basic, publishable and live keys),
 * body encodings (the SDK's form brackets and raw JSON), refusals of malformed requests naming the
 * `param`, and Stripe's idempotency rules (stripe-api.md §5.2, §5.3).
 */
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../support/fenpay.ts';
import { expectStripeError, expectStripeShape, rawRequest, sdkFailure } from './stripe-shape.ts';

const { StripeAuthenticationError, StripeCardError, StripeIdempotencyError, StripeInvalidRequestError } = Stripe.errors;

let env: TestFenpay;
let shop: TestMerchant;

beforeAll(async () => {
  env = await startTestFenpay();
  shop = await env.createMerchant();
});

afterAll(async () => {
  await env?.close();
});

const form = 'application/x-www-form-urlencoded';
const json = 'application/json';

describe('authentication', () => {
  it('accepts the secret key as a Bearer token', async () => {
    const response = await rawRequest(env.url, { path: '/v1/balance', authorization: `Bearer ${shop.secretKey}` });
    expect(response.status).toBe(200);
    expect(response.body.object).toBe('balance');
  });

  it('accepts the secret key as the HTTP Basic user name, with or without a password', async () => {
    for (const credentials of [`${shop.secretKey}:`, shop.secretKey, `${shop.secretKey}:ignored`]) {
      const response = await rawRequest(env.url, { path: '/v1/customers', authorization: `Basic ${Buffer.from(credentials).toString('base64')}` });
      expect(response.status, credentials).toBe(200);
      expect(response.body.object).toBe('list');
    }
  });

  it('treats the authorization scheme name case-insensitively (RFC 9110)', async () => {
    const bearer = await rawRequest(env.url, { path: '/v1/balance', authorization: `bearer ${shop.secretKey}` });
    expect(bearer.status).toBe(200);
    const basic = await rawRequest(env.url, { path: '/v1/balance', authorization: `basic ${Buffer.from(`${shop.secretKey}:`).toString('base64')}` });
    expect(basic.status).toBe(200);
  });

  it('answers 401 without an API key, which the SDK raises as StripeAuthenticationError', async () => {
    for (const authorization of [undefined, '', 'Bearer ', 'Bearer    ', 'Basic ', 'Token abc', `Basic ${Buffer.from(':').toString('base64')}`]) {
      const response = await rawRequest(env.url, { path: '/v1/payment_intents', ...(authorization === undefined ? {} : { authorization }) });
      expect(response.status, String(authorization)).toBe(401);
      expectStripeError(response.body, { type: 'invalid_request_error', code: 'api_key_missing' });
      expect(response.headers.get('request-id')).toMatch(/^req_/);
    }
  });

  it('answers 401 for an unknown key without echoing the whole key', async () => {
    const bogus = 'sk_test_thisKeyDoesNotExist1234567890abcdef';
    const error = await sdkFailure(env.stripeFor(bogus).paymentIntents.list(), StripeAuthenticationError);
    expect(error.statusCode).toBe(401);
    expect(error.rawType).toBe('invalid_request_error');
    expect(error.code).toBe('api_key_invalid');
    expect(error.message).not.toContain(bogus);
    expect(error.message).toContain(bogus.slice(-4));
    const tampered = `${shop.secretKey.slice(0, -1)}${shop.secretKey.endsWith('a') ? 'b' : 'a'}`;
    await sdkFailure(env.stripeFor(tampered).balance.retrieve(), StripeAuthenticationError);
  });

  it('refuses a publishable key on every secret-only endpoint but allows it to create a PaymentMethod', async () => {
    const browser = env.stripeFor(shop.publishableKey);
    const calls: [string, () => Promise<unknown>][] = [
      ['create payment intent', () => browser.paymentIntents.create({ amount: 100, currency: 'usd' })],
      ['list payment intents', () => browser.paymentIntents.list()],
      ['create customer', () => browser.customers.create({})],
      ['list customers', () => browser.customers.list()],
      ['create refund', () => browser.refunds.create({ payment_intent: 'pi_x' })],
      ['retrieve balance', () => browser.balance.retrieve()],
      ['list balance transactions', () => browser.balanceTransactions.list()],
      ['list events', () => browser.events.list()],
    ];
    for (const [label, call] of calls) {
      const error = await sdkFailure(call(), StripeAuthenticationError);
      expect(error.statusCode, label).toBe(401);
      expect(error.code, label).toBe('secret_key_required');
      expect(error.message, label).toMatch(/publishable API key/);
    }
    expect((await shop.stripe.paymentIntents.list()).data.every((pi) => pi.amount !== 100 || pi.currency !== 'usd')).toBe(true);
    const pm = await browser.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: new Date().getUTCFullYear() + 1 } });
    expect(pm.id).toMatch(/^pm_/);
  });

  it('keeps test and live mode apart: a key of one mode answers 404 for the other mode\'s PaymentIntent, saying which mode it is in', async () => {
    const processor = await env.createMerchant({ handlesCardData: true });
    const pm = await processor.liveStripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: new Date().getUTCFullYear() + 1 } });
    const live = await processor.liveStripe.paymentIntents.create({ amount: 2_000, currency: 'usd', payment_method: pm.id });
    expect(live.livemode).toBe(true);
    expect(live.status).toBe('requires_confirmation');

    const fromTest = await sdkFailure(processor.stripe.paymentIntents.retrieve(live.id), StripeInvalidRequestError);
    expect(fromTest.statusCode).toBe(404);
    expect(fromTest.code).toBe('resource_missing');
    expect(fromTest.message).toMatch(/live mode/);
    expect(fromTest.message).toMatch(/test mode key/);

    const test = await processor.stripe.paymentIntents.create({ amount: 2_000, currency: 'usd' });
    const fromLive = await sdkFailure(processor.liveStripe.paymentIntents.retrieve(test.id), StripeInvalidRequestError);
    expect(fromLive.statusCode).toBe(404);
    expect(fromLive.message).toMatch(/test mode/);

    const pmFromTest = await sdkFailure(processor.stripe.paymentMethods.retrieve(pm.id), StripeInvalidRequestError);
    expect(pmFromTest.statusCode).toBe(404);
    await sdkFailure(processor.stripe.paymentIntents.cancel(live.id), StripeInvalidRequestError);
    expect((await processor.liveStripe.paymentIntents.retrieve(live.id)).status).toBe('requires_confirmation');

    expect((await processor.stripe.paymentIntents.list()).data.map((p) => p.id)).toEqual([test.id]);
    expect((await processor.liveStripe.paymentIntents.list()).data.map((p) => p.id)).toEqual([live.id]);
    const liveEvents = await processor.liveStripe.events.list();
    expect(liveEvents.data.every((e) => e.livemode)).toBe(true);
    expect(liveEvents.data.length).toBeGreaterThan(0);
  });

  it('refuses to confirm a live payment when no live channel serves it, instead of leaving it processing', async () => {
    const processor = await env.createMerchant({ handlesCardData: true });
    const pm = await processor.liveStripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: new Date().getUTCFullYear() + 1 } });
    const live = await processor.liveStripe.paymentIntents.create({ amount: 2_000, currency: 'usd', payment_method: pm.id });
    const error = await sdkFailure(processor.liveStripe.paymentIntents.confirm(live.id), StripeInvalidRequestError);
    expect(error.statusCode).toBe(400);
    expect(error.param).toBe('payment_method');
    const after = await processor.liveStripe.paymentIntents.retrieve(live.id);
    expect(after.status).toBe('requires_confirmation');
    expect(after.latest_charge).toBeNull();
  });
});

describe('request bodies', () => {
  it('accepts a JSON body with nested objects', async () => {
    const body = JSON.stringify({ amount: 1_500, currency: 'usd', metadata: { order: '7', gift: 'yes' }, payment_method: 'pm_card_visa', confirm: true });
    const response = await rawRequest(env.url, { method: 'POST', path: '/v1/payment_intents', key: shop.secretKey, contentType: json, body });
    expect(response.status).toBe(200);
    expectStripeShape('payment_intent', response.body);
    expect(response.body).toMatchObject({ amount: 1_500, currency: 'usd', status: 'succeeded', metadata: { order: '7', gift: 'yes' } });

    const pm = await rawRequest(env.url, {
      method: 'POST', path: '/v1/payment_methods', key: shop.secretKey, contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({ type: 'card', card: { number: '5555555555554444', exp_month: 4, exp_year: new Date().getUTCFullYear() + 1 }, billing_details: { address: { country: 'DE' } } }),
    });
    expect(pm.status).toBe(200);
    expect(pm.body.card).toMatchObject({ brand: 'mastercard', last4: '4444', exp_month: 4 });
    expect(pm.body.billing_details.address.country).toBe('DE');
  });

  it('accepts form-encoded bracket syntax with indexed arrays, as the SDK sends', async () => {
    const body = 'amount=2500&currency=eur&metadata[order]=8&metadata[note]=a%20b%26c&payment_method_types[0]=card&capture_method=manual';
    const response = await rawRequest(env.url, { method: 'POST', path: '/v1/payment_intents', key: shop.secretKey, contentType: form, body });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ amount: 2_500, currency: 'eur', capture_method: 'manual', payment_method_types: ['card'], metadata: { order: '8', note: 'a b&c' } });
  });

  it('answers the same object for the same request in JSON and form encoding', async () => {
    const viaJson = await rawRequest(env.url, { method: 'POST', path: '/v1/customers', key: shop.secretKey, contentType: json, body: JSON.stringify({ name: 'Zoë 山田', metadata: { a: '1' } }) });
    const viaForm = await rawRequest(env.url, { method: 'POST', path: '/v1/customers', key: shop.secretKey, contentType: form, body: `name=${encodeURIComponent('Zoë 山田')}&metadata[a]=1` });
    expect(viaJson.status).toBe(200);
    expect(viaForm.status).toBe(200);
    expect(viaJson.body.name).toBe('Zoë 山田');
    expect(viaForm.body.name).toBe('Zoë 山田');
    expect(viaForm.body.metadata).toEqual(viaJson.body.metadata);
  });

  it('refuses malformed JSON with 400', async () => {
    for (const body of ['{"amount": 100,', '{amount: 1}', '[1,2', '"unterminated']) {
      const response = await rawRequest(env.url, { method: 'POST', path: '/v1/payment_intents', key: shop.secretKey, contentType: json, body });
      expect(response.status, body).toBe(400);
      expectStripeError(response.body, { type: 'invalid_request_error', code: 'body_malformed' });
    }
  });

  it('refuses a JSON body that is not an object', async () => {
    for (const body of ['[]', '[{"amount":1}]', '42', '"text"', 'null', 'true']) {
      const response = await rawRequest(env.url, { method: 'POST', path: '/v1/payment_intents', key: shop.secretKey, contentType: json, body });
      expect(response.status, body).toBe(400);
      expectStripeError(response.body, { type: 'invalid_request_error' });
    }
  });

  it('refuses unsupported content types with 415', async () => {
    for (const contentType of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream']) {
      const response = await rawRequest(env.url, { method: 'POST', path: '/v1/customers', key: shop.secretKey, contentType, body: 'name=x' });
      expect(response.status, contentType).toBe(415);
      expectStripeError(response.body, { type: 'invalid_request_error', code: 'unsupported_media_type' });
    }
  });

  it('refuses a body over the size limit with 413', async () => {
    const body = `name=${'x'.repeat(300 * 1024)}`;
    const response = await rawRequest(env.url, { method: 'POST', path: '/v1/customers', key: shop.secretKey, contentType: form, body });
    expect(response.status).toBe(413);
    expectStripeError(response.body, { code: 'body_too_large' });
    const big = await rawRequest(env.url, { method: 'POST', path: '/v1/customers', key: shop.secretKey, contentType: json, body: JSON.stringify({ name: 'y'.repeat(300 * 1024) }) });
    expect(big.status).toBe(413);
  });

  it('refuses form nesting deeper than the parser allows with 400', async () => {
    const response = await rawRequest(env.url, { method: 'POST', path: '/v1/customers', key: shop.secretKey, contentType: form, body: 'metadata[a][b][c][d][e][f][g]=1' });
    expect(response.status).toBe(400);
    expectStripeError(response.body, { type: 'invalid_request_error' });
  });

  it('refuses a NUL character in any string, naming the parameter, instead of failing in the database', async () => {
    const inBody = await rawRequest(env.url, { method: 'POST', path: '/v1/payment_intents', key: shop.secretKey, contentType: json, body: JSON.stringify({ amount: 100, currency: 'usd', metadata: { note: 'a\u0000b' } }) });
    expect(inBody.status).toBe(400);
    expectStripeError(inBody.body, { type: 'invalid_request_error', code: 'parameter_invalid', param: 'metadata[note]' });
    const inKey = await rawRequest(env.url, { method: 'POST', path: '/v1/customers', key: shop.secretKey, contentType: form, body: 'metadata[a%00b]=x' });
    expect(inKey.status).toBe(400);
    expectStripeError(inKey.body, { code: 'parameter_invalid' });
    const inQuery = await rawRequest(env.url, { path: '/v1/payment_intents?customer=cus_%00', key: shop.secretKey });
    expect(inQuery.status).toBe(400);
    expectStripeError(inQuery.body, { param: 'customer' });
  });

  it('answers a path that is not valid percent-encoding, or an id longer than any id, with a Stripe-shaped 404', async () => {
    for (const path of ['/v1/payment_intents/%FF', '/v1/customers/%E2%82/payment_methods', `/v1/refunds/re_${'a'.repeat(300)}`]) {
      const response = await rawRequest(env.url, { path, key: shop.secretKey });
      expect(response.status, path).toBe(404);
      expectStripeError(response.body, { type: 'invalid_request_error' });
      expect(response.headers.get('request-id'), path).toMatch(/^req_/);
    }
  });

  it('answers an unknown route with a Stripe-shaped 404', async () => {
    const response = await rawRequest(env.url, { path: '/v1/charges_nope', key: shop.secretKey });
    expect(response.status).toBe(404);
    expectStripeError(response.body, { type: 'invalid_request_error', code: 'url_invalid' });
  });
});

describe('refusals that name the parameter', () => {
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['a missing amount', { currency: 'usd' }, 'amount', 'parameter_missing'],
    ['a missing currency', { amount: 100 }, 'currency', 'parameter_missing'],
    ['amount 0', { amount: 0, currency: 'usd' }, 'amount', 'amount_must_be_positive'],
    ['amount -1', { amount: -1, currency: 'usd' }, 'amount', 'amount_must_be_positive'],
    ['amount 1.5', { amount: 1.5, currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
    ['amount "abc"', { amount: 'abc', currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
    ['amount 100000000 (over 99999999)', { amount: 100_000_000, currency: 'usd' }, 'amount', 'amount_too_large'],
    ['amount 1e20', { amount: 1e20, currency: 'usd' }, 'amount', 'amount_too_large'],
    ['an unknown currency', { amount: 100, currency: 'xyz' }, 'currency', 'currency_unsupported'],
    ['a currency that is too long', { amount: 100, currency: 'usdollar' }, 'currency', 'parameter_invalid'],
    ['an unknown parameter', { amount: 100, currency: 'usd', shoe_size: '42' }, 'shoe_size', 'parameter_unknown'],
    ['an invalid capture_method', { amount: 100, currency: 'usd', capture_method: 'later' }, 'capture_method', 'parameter_invalid'],
    ['a non-boolean confirm', { amount: 100, currency: 'usd', confirm: 'maybe' }, 'confirm', 'parameter_invalid'],
    ['a metadata value that is a hash', { amount: 100, currency: 'usd', metadata: { a: { b: 'c' } } }, 'metadata[a]', 'parameter_invalid'],
  ];

  it.each(cases)('refuses %s through the SDK (form encoding), naming the param', async (_label, params, param, code) => {
    const error = await sdkFailure(shop.stripe.paymentIntents.create(params as unknown as Stripe.PaymentIntentCreateParams), StripeInvalidRequestError);
    expect(error.statusCode).toBe(400);
    expect(error.rawType).toBe('invalid_request_error');
    expect(error.param).toBe(param);
    expect(error.code).toBe(code);
  });

  it.each(cases)('refuses %s in a JSON body, naming the param', async (_label, params, param) => {
    const response = await rawRequest(env.url, { method: 'POST', path: '/v1/payment_intents', key: shop.secretKey, contentType: json, body: JSON.stringify(params) });
    expect(response.status).toBe(400);
    expectStripeError(response.body, { type: 'invalid_request_error', param });
  });

  it('refuses a JSON boolean, null or object where the amount integer belongs', async () => {
    // `true` used to be coerced to the integer 1: a one-cent PaymentIntent from a client bug.
    for (const amount of [true, false, null, { value: 100 }]) {
      const response = await rawRequest(env.url, { method: 'POST', path: '/v1/payment_intents', key: shop.secretKey, contentType: json, body: JSON.stringify({ amount, currency: 'usd' }) });
      expect(response.status, JSON.stringify(amount)).toBe(400);
      expectStripeError(response.body, { param: 'amount' });
    }
  });

  it('accepts the largest amount, 99999999', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 99_999_999, currency: 'usd' });
    expect(pi.amount).toBe(99_999_999);
  });

  it('names nested unknown parameters with brackets', async () => {
    const error = await sdkFailure(
      shop.stripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: 2099, colour: 'red' } as unknown as Stripe.PaymentMethodCreateParams.Card }),
      StripeInvalidRequestError,
    );
    expect(error.code).toBe('parameter_unknown');
    expect(error.param).toBe('card[colour]');
  });

  it('answers 404 resource_missing for ids that do not exist on every retrieve endpoint', async () => {
    for (const path of ['payment_intents/pi_nope', 'payment_methods/pm_nope', 'customers/cus_nope', 'refunds/re_nope', 'events/evt_nope', 'balance_transactions/txn_nope']) {
      const response = await rawRequest(env.url, { path: `/v1/${path}`, key: shop.secretKey });
      expect(response.status, path).toBe(404);
      expectStripeError(response.body, { type: 'invalid_request_error', code: 'resource_missing' });
    }
  });
});

describe('idempotent requests', () => {
  it('replays the first response for a retry with the same key and parameters, and creates nothing twice', async () => {
    const merchant = await env.createMerchant();
    const params = { amount: 4_321, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { order: '99' } };
    const first = await merchant.stripe.paymentIntents.create(params, { idempotencyKey: 'order-99' });
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(first.lastResponse.idempotencyKey).toBe('order-99');
    const second = await merchant.stripe.paymentIntents.create(params, { idempotencyKey: 'order-99' });
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(second.id).toBe(first.id);
    const { lastResponse: _a, ...a } = first;
    const { lastResponse: _b, ...b } = second;
    expect(b).toEqual(a);
    const list = await merchant.stripe.paymentIntents.list();
    expect(list.data.map((pi) => pi.id)).toEqual([first.id]);
    expect((await merchant.stripe.balanceTransactions.list()).data).toHaveLength(1);
  });

  it('refuses the same key with different parameters as a StripeIdempotencyError (400)', async () => {
    await shop.stripe.customers.create({ name: 'First' }, { idempotencyKey: 'cust-key-1' });
    const error = await sdkFailure(shop.stripe.customers.create({ name: 'Second' }, { idempotencyKey: 'cust-key-1' }), StripeIdempotencyError);
    expect(error.statusCode).toBe(400);
    expect(error.rawType).toBe('idempotency_error');
    expect(error.message).toContain('cust-key-1');
    const onOtherEndpoint = await sdkFailure(shop.stripe.paymentIntents.create({ amount: 100, currency: 'usd' }, { idempotencyKey: 'cust-key-1' }), StripeIdempotencyError);
    expect(onOtherEndpoint.statusCode).toBe(400);
    expect((await shop.stripe.customers.list({ limit: 100 })).data.filter((c) => c.name === 'Second')).toHaveLength(0);
  });

  it('replays a stored card decline, with the same PaymentIntent, instead of charging again', async () => {
    const merchant = await env.createMerchant();
    const params = { amount: 777, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true };
    const first = await sdkFailure(merchant.stripe.paymentIntents.create(params, { idempotencyKey: 'declined-1' }), StripeCardError);
    const second = await sdkFailure(merchant.stripe.paymentIntents.create(params, { idempotencyKey: 'declined-1' }), StripeCardError);
    expect(second.headers?.['idempotent-replayed']).toBe('true');
    expect(second.code).toBe('card_declined');
    expect(second.decline_code).toBe('generic_decline');
    expect(second.payment_intent?.id).toBe(first.payment_intent?.id);
    expect(second.charge).toBe(first.charge);
    const list = await merchant.stripe.paymentIntents.list();
    expect(list.data).toHaveLength(1);
    const failedEvents = await merchant.stripe.events.list({ type: 'payment_intent.payment_failed' });
    expect(failedEvents.data).toHaveLength(1);
  });

  it('saves nothing for a request that fails validation, so the key can be used for a corrected request', async () => {
    const invalid = await sdkFailure(shop.stripe.paymentIntents.create({ amount: 0, currency: 'usd' }, { idempotencyKey: 'fix-me-1' }), StripeInvalidRequestError);
    expect(invalid.param).toBe('amount');
    const fixed = await shop.stripe.paymentIntents.create({ amount: 100, currency: 'usd' }, { idempotencyKey: 'fix-me-1' });
    expect(fixed.amount).toBe(100);
  });

  it('scopes keys to the merchant: another merchant\'s identical key creates its own object', async () => {
    const other = await env.createMerchant();
    const mine = await shop.stripe.customers.create({ name: 'Scoped' }, { idempotencyKey: 'shared-key' });
    const theirs = await other.stripe.customers.create({ name: 'Scoped' }, { idempotencyKey: 'shared-key' });
    expect(theirs.id).not.toBe(mine.id);
    expect(theirs.lastResponse.headers['idempotent-replayed']).toBeUndefined();
  });

  it('returns one object to concurrent requests with the same key', async () => {
    const merchant = await env.createMerchant();
    const client = env.stripeFor(merchant.secretKey, { maxNetworkRetries: 3 });
    const params = { amount: 1_111, currency: 'usd', payment_method: 'pm_card_visa', confirm: true };
    const results = await Promise.all(Array.from({ length: 5 }, () => client.paymentIntents.create(params, { idempotencyKey: 'burst-1' })));
    expect(new Set(results.map((pi) => pi.id)).size).toBe(1);
    expect(results.every((pi) => pi.status === 'succeeded')).toBe(true);
    expect((await merchant.stripe.paymentIntents.list()).data).toHaveLength(1);
    expect((await merchant.stripe.balanceTransactions.list()).data).toHaveLength(1);
  });

  it('refuses an idempotency key longer than 255 characters', async () => {
    const response = await rawRequest(env.url, { method: 'POST', path: '/v1/customers', key: shop.secretKey, contentType: form, body: 'name=x', headers: { 'idempotency-key': 'k'.repeat(256) } });
    expect(response.status).toBe(400);
    expectStripeError(response.body, { type: 'invalid_request_error' });
    const ok = await rawRequest(env.url, { method: 'POST', path: '/v1/customers', key: shop.secretKey, contentType: form, body: 'name=x', headers: { 'idempotency-key': 'k'.repeat(255) } });
    expect(ok.status).toBe(200);
  });
});
