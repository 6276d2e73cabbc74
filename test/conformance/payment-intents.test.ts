/**
 * PaymentIntents through the official stripe SDK over real HTTP: every endpoint, the state machine
 * (docs: stripe-api.md §5.4), declines, 3-D Secure in the sandbox, and the refusals of illegal moves.
 */
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../support/fenpay.ts';
import { expectStripeError, expectStripeShape, expectUnixSeconds, rawRequest, sdkFailure } from './stripe-shape.ts';

const { StripeCardError, StripeInvalidRequestError } = Stripe.errors;

let env: TestFenpay;
let shop: TestMerchant;

beforeAll(async () => {
  // The fee rate is pinned so the ledger amounts below are exact.
  env = await startTestFenpay({ env: { CHANNEL_FEE_BPS: 'sandbox_card=290' } });
  shop = await env.createMerchant();
});

afterAll(async () => {
  await env?.close();
});

/** Answers the sandbox's 3-D Secure page the way its buttons do. */
async function completeChallenge(url: string, result: 'approve' | 'fail'): Promise<Response> {
  return await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `result=${result}`, redirect: 'manual' });
}

function challengeUrlOf(pi: Stripe.PaymentIntent): string {
  expect(pi.status).toBe('requires_action');
  expect(pi.next_action?.type).toBe('redirect_to_url');
  const url = pi.next_action?.redirect_to_url?.url;
  expect(url).toMatch(new RegExp(`^${env.url}/sandbox/cards/3ds/sca_[0-9A-Za-z]+$`));
  return url!;
}

describe('creating and reading PaymentIntents', () => {
  it('creates an unconfirmed PaymentIntent shaped like Stripe\'s, awaiting a payment method', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 2000, currency: 'usd', description: 'Order 17', metadata: { order_id: '17', note: 'gift' } });
    expectStripeShape('payment_intent', pi);
    expect(pi.status).toBe('requires_payment_method');
    expect(pi.amount).toBe(2000);
    expect(pi.currency).toBe('usd');
    expect(pi.amount_received).toBe(0);
    expect(pi.amount_capturable).toBe(0);
    expect(pi.capture_method).toBe('automatic');
    expect(pi.livemode).toBe(false);
    expect(pi.description).toBe('Order 17');
    expect(pi.metadata).toEqual({ order_id: '17', note: 'gift' });
    expect(pi.payment_method).toBeNull();
    expect(pi.latest_charge).toBeNull();
    expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_[0-9A-Za-z]+$`));
    expect(pi.payment_method_types).toEqual(['card']);
    expect(pi.lastResponse.statusCode).toBe(200);
    expect(pi.lastResponse.requestId).toMatch(/^req_/);
  });

  it('retrieves a PaymentIntent exactly as it was created', async () => {
    const created = await shop.stripe.paymentIntents.create({ amount: 1500, currency: 'eur', metadata: { k: 'v' } });
    const fetched = await shop.stripe.paymentIntents.retrieve(created.id);
    expectStripeShape('payment_intent', fetched);
    const { lastResponse: _a, ...createdFields } = created;
    const { lastResponse: _b, ...fetchedFields } = fetched;
    expect(fetchedFields).toEqual(createdFields);
  });

  it('updates amount, description and metadata before confirmation, and deletes a metadata key set to the empty string', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', metadata: { keep: '1', drop: '2' } });
    const updated = await shop.stripe.paymentIntents.update(pi.id, { amount: 1250, description: 'changed', metadata: { drop: '', added: '3' } });
    expect(updated.amount).toBe(1250);
    expect(updated.description).toBe('changed');
    expect(updated.metadata).toEqual({ keep: '1', added: '3' });
    expect(updated.status).toBe('requires_payment_method');
    const fetched = await shop.stripe.paymentIntents.retrieve(pi.id);
    expect(fetched.amount).toBe(1250);
    expect(fetched.metadata).toEqual({ keep: '1', added: '3' });
  });

  it('creates and confirms a card payment in one call, crediting the merchant balance net of the fee', async () => {
    const merchant = await env.createMerchant();
    const pi = await merchant.stripe.paymentIntents.create({ amount: 10_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    expectStripeShape('payment_intent', pi);
    expect(pi.status).toBe('succeeded');
    expect(pi.amount_received).toBe(10_000);
    expect(pi.amount_capturable).toBe(0);
    expect(pi.payment_method).toMatch(/^pm_/);
    expect(pi.latest_charge).toMatch(/^ch_/);
    expect(pi.last_payment_error).toBeNull();
    expect(pi.next_action).toBeNull();

    const balance = await merchant.stripe.balance.retrieve();
    expect(balance.available).toEqual([{ amount: 9_710, currency: 'usd', source_types: { card: 9_710 } }]);
    const txns = await merchant.stripe.balanceTransactions.list({ source: pi.latest_charge as string });
    expect(txns.data).toHaveLength(1);
    expect(txns.data[0]).toMatchObject({ type: 'charge', amount: 10_000, fee: 290, net: 9_710, currency: 'usd', source: pi.latest_charge });
  });

  it('uses a PaymentMethod created from a raw test card number', async () => {
    const pm = await shop.stripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 12, exp_year: new Date().getUTCFullYear() + 2, cvc: '123' } });
    const pi = await shop.stripe.paymentIntents.create({ amount: 700, currency: 'gbp', payment_method: pm.id, confirm: true });
    expect(pi.status).toBe('succeeded');
    expect(pi.payment_method).toBe(pm.id);
    expect(pi.amount_received).toBe(700);
  });
});

describe('the PaymentIntent state machine', () => {
  it('moves requires_payment_method → requires_confirmation (update with a payment method) → succeeded (confirm)', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 3300, currency: 'usd' });
    expect(pi.status).toBe('requires_payment_method');
    const withMethod = await shop.stripe.paymentIntents.update(pi.id, { payment_method: 'pm_card_mastercard' });
    expect(withMethod.status).toBe('requires_confirmation');
    expect(withMethod.payment_method).toMatch(/^pm_/);
    const confirmed = await shop.stripe.paymentIntents.confirm(pi.id);
    expect(confirmed.status).toBe('succeeded');
    expect(confirmed.amount_received).toBe(3300);
    expect(confirmed.payment_method).toBe(withMethod.payment_method);
    const pm = await shop.stripe.paymentMethods.retrieve(confirmed.payment_method as string);
    expect(pm.card?.brand).toBe('mastercard');
    expect(pm.card?.last4).toBe('4444');
  });

  it('is requires_confirmation when created with a payment method and no confirm, then confirms with a different method', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 900, currency: 'usd', payment_method: 'pm_card_chargeDeclined' });
    expect(pi.status).toBe('requires_confirmation');
    const confirmed = await shop.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    expect(confirmed.status).toBe('succeeded');
    expect(confirmed.payment_method).not.toBe(pi.payment_method);
  });

  it('authorizes with capture_method=manual, partially captures, and reports amount_received as the captured amount', async () => {
    const merchant = await env.createMerchant();
    const pi = await merchant.stripe.paymentIntents.create({ amount: 10_000, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    expect(pi.status).toBe('requires_capture');
    expect(pi.capture_method).toBe('manual');
    expect(pi.amount_capturable).toBe(10_000);
    expect(pi.amount_received).toBe(0);
    const held = await merchant.stripe.balance.retrieve();
    expect(held.available[0]).toMatchObject({ amount: 0, currency: 'usd' });
    expect(held.pending[0]).toMatchObject({ amount: 10_000, currency: 'usd' });

    const captured = await merchant.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 6_000 });
    expect(captured.status).toBe('succeeded');
    expect(captured.amount_received).toBe(6_000);
    expect(captured.amount_capturable).toBe(0);
    expect(captured.amount).toBe(10_000);

    const balance = await merchant.stripe.balance.retrieve();
    expect(balance.available).toEqual([{ amount: 6_000 - 174, currency: 'usd', source_types: { card: 6_000 - 174 } }]);
    expect(balance.pending).toEqual([{ amount: 0, currency: 'usd', source_types: { card: 0 } }]);
    const txns = await merchant.stripe.balanceTransactions.list();
    expect(txns.data).toHaveLength(1);
    expect(txns.data[0]).toMatchObject({ type: 'charge', amount: 6_000, fee: 174, net: 5_826 });
  });

  it('captures the full authorization when amount_to_capture is omitted', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 4_200, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    const captured = await shop.stripe.paymentIntents.capture(pi.id);
    expect(captured.status).toBe('succeeded');
    expect(captured.amount_received).toBe(4_200);
  });

  it('cancels an authorization (requires_capture → canceled) and leaves the balance as it was before the payment', async () => {
    const merchant = await env.createMerchant();
    await merchant.stripe.paymentIntents.create({ amount: 5_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const before = await merchant.stripe.balance.retrieve();
    const pi = await merchant.stripe.paymentIntents.create({ amount: 2_500, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    expect(pi.status).toBe('requires_capture');
    const during = await merchant.stripe.balance.retrieve();
    expect(during.pending[0]?.amount).toBe(2_500);

    const canceled = await merchant.stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'requested_by_customer' });
    expect(canceled.status).toBe('canceled');
    expect(canceled.cancellation_reason).toBe('requested_by_customer');
    expectUnixSeconds(canceled.canceled_at, 'canceled_at');
    expect(canceled.amount_capturable).toBe(0);
    expect(canceled.amount_received).toBe(0);

    const after = await merchant.stripe.balance.retrieve();
    const { lastResponse: _x, ...beforeFields } = before;
    const { lastResponse: _y, ...afterFields } = after;
    expect(afterFields).toEqual(beforeFields);
    const txns = await merchant.stripe.balanceTransactions.list();
    expect(txns.data.map((t) => t.amount)).toEqual([5_000]);
  });

  it('cancels a PaymentIntent that never had a payment method', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 800, currency: 'usd' });
    const canceled = await shop.stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'abandoned' });
    expect(canceled.status).toBe('canceled');
    expect(canceled.cancellation_reason).toBe('abandoned');
    expect((await shop.stripe.paymentIntents.retrieve(pi.id)).status).toBe('canceled');
  });

  it('returns a declined card to requires_payment_method with last_payment_error, then succeeds on a second confirm with another card', async () => {
    const error = await sdkFailure(shop.stripe.paymentIntents.create({ amount: 1_234, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true }), StripeCardError);
    expect(error.statusCode).toBe(402);
    expect(error.type).toBe('StripeCardError');
    expect(error.code).toBe('card_declined');
    expect(error.decline_code).toBe('generic_decline');
    expect(error.charge).toMatch(/^ch_/);
    const raw = error.raw as { payment_intent?: Stripe.PaymentIntent };
    expect(raw.payment_intent?.id).toMatch(/^pi_/);
    expect(raw.payment_intent?.status).toBe('requires_payment_method');
    expect(error.payment_intent?.id).toBe(raw.payment_intent?.id);

    const failed = await shop.stripe.paymentIntents.retrieve(raw.payment_intent!.id);
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.last_payment_error?.type).toBe('card_error');
    expect(failed.last_payment_error?.code).toBe('card_declined');
    expect(failed.last_payment_error?.decline_code).toBe('generic_decline');
    expect(failed.last_payment_error?.payment_method?.card?.last4).toBe('0002');
    expect(failed.amount_received).toBe(0);

    const retried = await shop.stripe.paymentIntents.confirm(failed.id, { payment_method: 'pm_card_visa' });
    expect(retried.status).toBe('succeeded');
    expect(retried.last_payment_error).toBeNull();
    expect(retried.amount_received).toBe(1_234);
    expect(retried.latest_charge).not.toBe(error.charge);
  });

  it.each([
    ['4000000000009995', 'card_declined', 'insufficient_funds'],
    ['4000000000000069', 'expired_card', 'expired_card'],
    ['4000000000000127', 'incorrect_cvc', 'incorrect_cvc'],
    ['4000000000000002', 'card_declined', 'generic_decline'],
  ])('declines test card %s with code %s and decline_code %s', async (number, code, declineCode) => {
    const pm = await shop.stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 6, exp_year: new Date().getUTCFullYear() + 3 } });
    const pi = await shop.stripe.paymentIntents.create({ amount: 555, currency: 'usd', payment_method: pm.id });
    const error = await sdkFailure(shop.stripe.paymentIntents.confirm(pi.id), StripeCardError);
    expect(error.code).toBe(code);
    expect(error.decline_code).toBe(declineCode);
    expect((error.raw as { payment_intent?: { id: string } }).payment_intent?.id).toBe(pi.id);
    const after = await shop.stripe.paymentIntents.retrieve(pi.id);
    expect(after.status).toBe('requires_payment_method');
    expect(after.last_payment_error?.code).toBe(code);
  });

  it('declines pm_card_chargeDeclinedInsufficientFunds with insufficient_funds', async () => {
    const error = await sdkFailure(shop.stripe.paymentIntents.create({ amount: 100, currency: 'usd', payment_method: 'pm_card_chargeDeclinedInsufficientFunds', confirm: true }), StripeCardError);
    expect(error.code).toBe('card_declined');
    expect(error.decline_code).toBe('insufficient_funds');
  });
});

describe('3-D Secure in the sandbox', () => {
  it('requires action for a 3DS card and succeeds once the payer approves the challenge', async () => {
    const merchant = await env.createMerchant();
    const pm = await merchant.stripe.paymentMethods.create({ type: 'card', card: { number: '4000002500003155', exp_month: 1, exp_year: new Date().getUTCFullYear() + 2 } });
    const pi = await merchant.stripe.paymentIntents.create({ amount: 2_000, currency: 'usd', payment_method: pm.id, confirm: true, return_url: 'https://shop.example/return?order=1' });
    const url = challengeUrlOf(pi);
    expect(pi.next_action?.redirect_to_url?.return_url).toBe('https://shop.example/return?order=1');
    expect(pi.amount_received).toBe(0);

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('3155');

    const answer = await completeChallenge(url, 'approve');
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('https://shop.example/return?order=1');

    const done = await merchant.stripe.paymentIntents.retrieve(pi.id);
    expect(done.status).toBe('succeeded');
    expect(done.amount_received).toBe(2_000);
    expect(done.next_action).toBeNull();
    const balance = await merchant.stripe.balance.retrieve();
    expect(balance.available[0]?.amount).toBe(2_000 - 58);
  });

  it('returns to requires_payment_method when the payer fails the challenge, and a second card then succeeds', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 3_000, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true });
    const url = challengeUrlOf(pi);
    const answer = await completeChallenge(url, 'fail');
    expect(answer.status).toBeLessThan(400);

    const failed = await shop.stripe.paymentIntents.retrieve(pi.id);
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.last_payment_error?.code).toBe('payment_intent_authentication_failure');
    expect(failed.amount_received).toBe(0);

    const again = await completeChallenge(url, 'approve');
    expect(again.status).toBeLessThan(500);
    expect((await shop.stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');

    const retried = await shop.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    expect(retried.status).toBe('succeeded');
  });

  it('ends in requires_capture after an approved challenge with capture_method=manual', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 1_800, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_threeDSecure2Required', confirm: true });
    await completeChallenge(challengeUrlOf(pi), 'approve');
    const authorized = await shop.stripe.paymentIntents.retrieve(pi.id);
    expect(authorized.status).toBe('requires_capture');
    expect(authorized.amount_capturable).toBe(1_800);
    const captured = await shop.stripe.paymentIntents.capture(pi.id);
    expect(captured.status).toBe('succeeded');
  });

  it('cancels a PaymentIntent that is waiting for the payer, after which the challenge changes nothing', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 1_100, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true });
    const url = challengeUrlOf(pi);
    const canceled = await shop.stripe.paymentIntents.cancel(pi.id);
    expect(canceled.status).toBe('canceled');
    expect(canceled.next_action).toBeNull();
    await completeChallenge(url, 'approve');
    const after = await shop.stripe.paymentIntents.retrieve(pi.id);
    expect(after.status).toBe('canceled');
    expect(after.amount_received).toBe(0);
  });
});

describe('refused PaymentIntent operations', () => {
  it('refuses to capture more than amount_capturable, naming amount_to_capture, and keeps the authorization', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    const error = await sdkFailure(shop.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 1_001 }), StripeInvalidRequestError);
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('amount_to_capture_exceeds_capturable');
    expect(error.param).toBe('amount_to_capture');
    const after = await shop.stripe.paymentIntents.retrieve(pi.id);
    expect(after.status).toBe('requires_capture');
    expect(after.amount_capturable).toBe(1_000);
  });

  it('refuses to capture a PaymentIntent that is not requires_capture', async () => {
    const unpaid = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd' });
    const error = await sdkFailure(shop.stripe.paymentIntents.capture(unpaid.id), StripeInvalidRequestError);
    expect(error.code).toBe('payment_intent_unexpected_state');
    expect(error.payment_intent?.status).toBe('requires_payment_method');

    const paid = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const again = await sdkFailure(shop.stripe.paymentIntents.capture(paid.id), StripeInvalidRequestError);
    expect(again.code).toBe('payment_intent_unexpected_state');
    expect((await shop.stripe.paymentIntents.retrieve(paid.id)).amount_received).toBe(1_000);
  });

  it('refuses to capture twice', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    await shop.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 400 });
    const error = await sdkFailure(shop.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 400 }), StripeInvalidRequestError);
    expect(error.code).toBe('payment_intent_unexpected_state');
    expect((await shop.stripe.paymentIntents.retrieve(pi.id)).amount_received).toBe(400);
  });

  it('refuses to cancel a succeeded PaymentIntent', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const error = await sdkFailure(shop.stripe.paymentIntents.cancel(pi.id), StripeInvalidRequestError);
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('payment_intent_unexpected_state');
    expect(error.payment_intent?.status).toBe('succeeded');
    expect((await shop.stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
  });

  it('refuses to cancel a canceled PaymentIntent', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd' });
    await shop.stripe.paymentIntents.cancel(pi.id);
    const error = await sdkFailure(shop.stripe.paymentIntents.cancel(pi.id), StripeInvalidRequestError);
    expect(error.code).toBe('payment_intent_unexpected_state');
  });

  it('refuses to confirm a succeeded PaymentIntent, and to confirm one without a payment method', async () => {
    const paid = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const error = await sdkFailure(shop.stripe.paymentIntents.confirm(paid.id, { payment_method: 'pm_card_visa' }), StripeInvalidRequestError);
    expect(error.code).toBe('payment_intent_unexpected_state');

    const bare = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd' });
    const missing = await sdkFailure(shop.stripe.paymentIntents.confirm(bare.id), StripeInvalidRequestError);
    expect(missing.code).toBe('payment_method_required');
    expect(missing.param).toBe('payment_method');

    const alsoMissing = await sdkFailure(shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', confirm: true }), StripeInvalidRequestError);
    expect(alsoMissing.param).toBe('payment_method');
  });

  it('refuses to change the amount of a succeeded PaymentIntent but still accepts new metadata', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const error = await sdkFailure(shop.stripe.paymentIntents.update(pi.id, { amount: 2_000 }), StripeInvalidRequestError);
    expect(error.code).toBe('payment_intent_unexpected_state');
    const updated = await shop.stripe.paymentIntents.update(pi.id, { metadata: { shipped: 'yes' } });
    expect(updated.metadata).toEqual({ shipped: 'yes' });
    expect(updated.amount).toBe(1_000);
  });

  it('answers 404 resource_missing for an unknown PaymentIntent id on every PaymentIntent endpoint', async () => {
    const id = 'pi_doesNotExist000000000000';
    const calls: (() => Promise<unknown>)[] = [
      () => shop.stripe.paymentIntents.retrieve(id),
      () => shop.stripe.paymentIntents.update(id, { description: 'x' }),
      () => shop.stripe.paymentIntents.confirm(id, { payment_method: 'pm_card_visa' }),
      () => shop.stripe.paymentIntents.capture(id),
      () => shop.stripe.paymentIntents.cancel(id),
    ];
    for (const call of calls) {
      const error = await sdkFailure(call(), StripeInvalidRequestError);
      expect(error.statusCode).toBe(404);
      expect(error.code).toBe('resource_missing');
      expect(error.message).toContain(id);
    }
  });

  it('refuses an unknown payment method id, naming payment_method', async () => {
    const error = await sdkFailure(shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', payment_method: 'pm_nope', confirm: true }), StripeInvalidRequestError);
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe('resource_missing');
    expect(error.param).toBe('payment_method');
  });
});

describe('listing PaymentIntents', () => {
  it('lists newest first, filters by customer and by created, and honours limit', async () => {
    const merchant = await env.createMerchant();
    const customer = await merchant.stripe.customers.create({ email: 'list@example.com' });
    const a = await merchant.stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
    const b = await merchant.stripe.paymentIntents.create({ amount: 200, currency: 'usd', customer: customer.id });
    const c = await merchant.stripe.paymentIntents.create({ amount: 300, currency: 'usd' });

    const all = await merchant.stripe.paymentIntents.list();
    expectStripeShape('list', all);
    expect(all.url).toBe('/v1/payment_intents');
    expect(all.has_more).toBe(false);
    expect(new Set(all.data.map((p) => p.id))).toEqual(new Set([a.id, b.id, c.id]));
    for (let k = 1; k < all.data.length; k++) expect(all.data[k - 1]!.created).toBeGreaterThanOrEqual(all.data[k]!.created);
    for (const pi of all.data) expectStripeShape('payment_intent', pi);

    const limited = await merchant.stripe.paymentIntents.list({ limit: 2 });
    expect(limited.data).toHaveLength(2);
    expect(limited.has_more).toBe(true);

    const forCustomer = await merchant.stripe.paymentIntents.list({ customer: customer.id });
    expect(forCustomer.data.map((p) => p.id)).toEqual([b.id]);
    expect(forCustomer.data[0]?.customer).toBe(customer.id);

    const created = a.created;
    const inRange = await merchant.stripe.paymentIntents.list({ created: { gte: created - 5, lte: created + 60 } });
    expect(inRange.data).toHaveLength(3);
    const future = await merchant.stripe.paymentIntents.list({ created: { gt: created + 3600 } });
    expect(future.data).toHaveLength(0);
    const past = await merchant.stripe.paymentIntents.list({ created: { lt: created - 3600 } });
    expect(past.data).toHaveLength(0);
  });

  it('refuses limit outside 1..100, naming limit', async () => {
    for (const limit of [0, 101]) {
      const response = await rawRequest(env.url, { path: `/v1/payment_intents?limit=${limit}`, key: shop.secretKey });
      expect(response.status).toBe(400);
      expectStripeError(response.body, { type: 'invalid_request_error', param: 'limit' });
    }
  });
});
