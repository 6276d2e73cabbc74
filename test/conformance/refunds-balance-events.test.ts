/**
 * Refunds, the Balance and BalanceTransactions (read from the ledger), and Events, through the official
 * stripe SDK over real HTTP. Amounts are exact: the fee rate is pinned at 2.90%, rounded half up.
 */
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../support/fenpay.ts';
import { expectStripeError, expectStripeShape, rawRequest, sdkFailure } from './stripe-shape.ts';

const { StripeInvalidRequestError } = Stripe.errors;

let env: TestFenpay;

beforeAll(async () => {
  env = await startTestFenpay({ env: { CHANNEL_FEE_BPS: 'sandbox_card=290' } });
});

afterAll(async () => {
  await env?.close();
});

async function pay(merchant: TestMerchant, amount: number, currency = 'usd', extra: Partial<Stripe.PaymentIntentCreateParams> = {}): Promise<Stripe.PaymentIntent> {
  const pi = await merchant.stripe.paymentIntents.create({ amount, currency, payment_method: 'pm_card_visa', confirm: true, ...extra });
  expect(pi.status).toBe(extra.capture_method === 'manual' ? 'requires_capture' : 'succeeded');
  return pi;
}

/** A merchant with money in its balance, so refunds below are funded (see the balance_insufficient test). */
async function fundedMerchant(currency = 'usd'): Promise<TestMerchant> {
  const merchant = await env.createMerchant();
  await pay(merchant, 1_000_000, currency);
  return merchant;
}

function availableIn(balance: Stripe.Balance, currency: string): number | undefined {
  return balance.available.find((entry) => entry.currency === currency)?.amount;
}

describe('Refunds', () => {
  it('refunds a payment in full by payment_intent, with a Stripe-shaped refund and a negative balance transaction', async () => {
    const merchant = await fundedMerchant();
    const pi = await pay(merchant, 10_000);
    const before = await merchant.stripe.balance.retrieve();

    const refund = await merchant.stripe.refunds.create({ payment_intent: pi.id, reason: 'requested_by_customer', metadata: { ticket: 'T-1' } });
    expectStripeShape('refund', refund);
    expect(refund).toMatchObject({ amount: 10_000, currency: 'usd', status: 'succeeded', payment_intent: pi.id, charge: pi.latest_charge, reason: 'requested_by_customer', metadata: { ticket: 'T-1' } });
    expect(refund.balance_transaction).toMatch(/^txn_/);

    const txn = await merchant.stripe.balanceTransactions.retrieve(refund.balance_transaction as string);
    expectStripeShape('balance_transaction', txn);
    expect(txn).toMatchObject({ type: 'refund', amount: -10_000, fee: 0, net: -10_000, currency: 'usd', source: refund.id });

    const after = await merchant.stripe.balance.retrieve();
    expect(availableIn(after, 'usd')).toBe(availableIn(before, 'usd')! - 10_000);

    const fetched = await merchant.stripe.refunds.retrieve(refund.id);
    const { lastResponse: _a, ...created } = refund;
    const { lastResponse: _b, ...read } = fetched;
    expect(read).toEqual(created);
  });

  it('refunds partially several times, refuses going past the captured amount, then refuses once fully refunded', async () => {
    const merchant = await fundedMerchant();
    const pi = await pay(merchant, 5_000);
    const first = await merchant.stripe.refunds.create({ payment_intent: pi.id, amount: 1_000 });
    const second = await merchant.stripe.refunds.create({ payment_intent: pi.id, amount: 1_500 });
    expect(first.amount).toBe(1_000);
    expect(second.amount).toBe(1_500);
    expect(first.id).not.toBe(second.id);

    const tooMuch = await sdkFailure(merchant.stripe.refunds.create({ payment_intent: pi.id, amount: 2_501 }), StripeInvalidRequestError);
    expect(tooMuch.statusCode).toBe(400);
    expect(tooMuch.code).toBe('refund_exceeds_captured_amount');
    expect(tooMuch.param).toBe('amount');

    const rest = await merchant.stripe.refunds.create({ payment_intent: pi.id });
    expect(rest.amount).toBe(2_500);

    const none = await sdkFailure(merchant.stripe.refunds.create({ payment_intent: pi.id, amount: 1 }), StripeInvalidRequestError);
    expect(none.code).toBe('charge_already_refunded');

    const listed = await merchant.stripe.refunds.list({ payment_intent: pi.id });
    expectStripeShape('list', listed);
    expect(listed.data.map((r) => r.amount).sort((x, y) => x - y)).toEqual([1_000, 1_500, 2_500]);
    for (const r of listed.data) expectStripeShape('refund', r);
    const txns = await merchant.stripe.balanceTransactions.list({ type: 'refund' });
    expect(txns.data.map((t) => t.amount).sort((x, y) => x - y)).toEqual([-2_500, -1_500, -1_000]);
  });

  it('refuses a second full refund of the same payment', async () => {
    const merchant = await fundedMerchant();
    const pi = await pay(merchant, 2_000);
    await merchant.stripe.refunds.create({ payment_intent: pi.id });
    const again = await sdkFailure(merchant.stripe.refunds.create({ payment_intent: pi.id }), StripeInvalidRequestError);
    expect(again.code).toBe('charge_already_refunded');
    expect((await merchant.stripe.refunds.list({ payment_intent: pi.id })).data).toHaveLength(1);
  });

  it('refunds by charge id and lists refunds by charge', async () => {
    const merchant = await fundedMerchant();
    const pi = await pay(merchant, 3_000);
    const refund = await merchant.stripe.refunds.create({ charge: pi.latest_charge as string, amount: 700 });
    expect(refund.payment_intent).toBe(pi.id);
    expect(refund.charge).toBe(pi.latest_charge);
    const byCharge = await merchant.stripe.refunds.list({ charge: pi.latest_charge as string });
    expect(byCharge.data.map((r) => r.id)).toEqual([refund.id]);
  });

  it('refuses a refund larger than the captured amount of a partially captured payment', async () => {
    const merchant = await fundedMerchant();
    const pi = await pay(merchant, 10_000, 'usd', { capture_method: 'manual' });
    await merchant.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 6_000 });
    const error = await sdkFailure(merchant.stripe.refunds.create({ payment_intent: pi.id, amount: 6_001 }), StripeInvalidRequestError);
    expect(error.code).toBe('refund_exceeds_captured_amount');
    expect(error.param).toBe('amount');
    const full = await merchant.stripe.refunds.create({ payment_intent: pi.id });
    expect(full.amount).toBe(6_000);
  });

  it('refuses to refund an uncaptured or unpaid PaymentIntent', async () => {
    const merchant = await fundedMerchant();
    const authorized = await pay(merchant, 1_000, 'usd', { capture_method: 'manual' });
    const uncaptured = await sdkFailure(merchant.stripe.refunds.create({ payment_intent: authorized.id }), StripeInvalidRequestError);
    expect(uncaptured.code).toBe('refund_requires_succeeded_payment');
    expect(uncaptured.param).toBe('payment_intent');
    expect((await merchant.stripe.paymentIntents.retrieve(authorized.id)).status).toBe('requires_capture');

    const unpaid = await merchant.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd' });
    const refused = await sdkFailure(merchant.stripe.refunds.create({ payment_intent: unpaid.id }), StripeInvalidRequestError);
    expect(refused.code).toBe('refund_requires_succeeded_payment');
  });

  it('refuses a refund without payment_intent or charge, with amount 0, and for an unknown PaymentIntent', async () => {
    const merchant = await fundedMerchant();
    const pi = await pay(merchant, 1_000);
    const missing = await sdkFailure(merchant.stripe.refunds.create({}), StripeInvalidRequestError);
    expect(missing.code).toBe('parameter_missing');
    expect(missing.param).toBe('payment_intent');
    const zero = await sdkFailure(merchant.stripe.refunds.create({ payment_intent: pi.id, amount: 0 }), StripeInvalidRequestError);
    expect(zero.param).toBe('amount');
    const unknown = await sdkFailure(merchant.stripe.refunds.create({ payment_intent: 'pi_unknown000000000000000000' }), StripeInvalidRequestError);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.code).toBe('resource_missing');
    expect(unknown.param).toBe('payment_intent');
    const unknownCharge = await sdkFailure(merchant.stripe.refunds.create({ charge: 'ch_unknown000000000000000000' }), StripeInvalidRequestError);
    expect(unknownCharge.statusCode).toBe(404);
    expect(unknownCharge.param).toBe('charge');
    const notFound = await sdkFailure(merchant.stripe.refunds.retrieve('re_unknown000000000000000000'), StripeInvalidRequestError);
    expect(notFound.statusCode).toBe(404);
  });

  it('refuses a refund the merchant balance cannot fund (the ledger never lets a merchant balance go negative)', async () => {
    // Product decision, unlike Stripe (which lets the balance go negative): the only payment's fee
    // has left the balance short of the full amount, so a full refund is refused and nothing changes.
    const merchant = await env.createMerchant();
    const pi = await pay(merchant, 10_000);
    const error = await sdkFailure(merchant.stripe.refunds.create({ payment_intent: pi.id }), StripeInvalidRequestError);
    expect(error.code).toBe('balance_insufficient');
    expect((await merchant.stripe.refunds.list()).data).toHaveLength(0);
    const partial = await merchant.stripe.refunds.create({ payment_intent: pi.id, amount: 9_710 });
    expect(partial.status).toBe('succeeded');
    expect(availableIn(await merchant.stripe.balance.retrieve(), 'usd')).toBe(0);
  });
});

describe('Balance and BalanceTransactions', () => {
  it('starts at zero in the merchant\'s default currency', async () => {
    const merchant = await env.createMerchant();
    const balance = await merchant.stripe.balance.retrieve();
    expectStripeShape('balance', balance);
    expect(balance.livemode).toBe(false);
    expect(balance.available).toHaveLength(1);
    expect(balance.available[0]?.amount).toBe(0);
    expect(balance.pending[0]?.amount).toBe(0);
    expect((await merchant.stripe.balanceTransactions.list()).data).toHaveLength(0);
  });

  it('records a charge transaction with amount, fee and net, retrievable by id', async () => {
    const merchant = await env.createMerchant();
    const pi = await pay(merchant, 1_099);
    const list = await merchant.stripe.balanceTransactions.list();
    expectStripeShape('list', list);
    expect(list.url).toBe('/v1/balance_transactions');
    expect(list.data).toHaveLength(1);
    const txn = list.data[0]!;
    expectStripeShape('balance_transaction', txn);
    // 1099 × 2.90% = 31.871 → 32.
    expect(txn).toMatchObject({ type: 'charge', reporting_category: 'charge', amount: 1_099, fee: 32, net: 1_067, currency: 'usd', source: pi.latest_charge, status: 'available' });
    expect(txn.fee_details).toEqual([expect.objectContaining({ amount: 32, currency: 'usd' })]);
    const fetched = await merchant.stripe.balanceTransactions.retrieve(txn.id);
    expect(fetched.id).toBe(txn.id);
    expect(fetched.net).toBe(1_067);
    const missing = await sdkFailure(merchant.stripe.balanceTransactions.retrieve('txn_missing000000000000000000'), StripeInvalidRequestError);
    expect(missing.statusCode).toBe(404);
  });

  it('takes JPY amounts as whole yen and KWD amounts as fils, and keeps each currency in its own balance', async () => {
    const merchant = await env.createMerchant();
    const yen = await pay(merchant, 500, 'jpy');
    expect(yen.amount).toBe(500);
    expect(yen.currency).toBe('jpy');
    expect(yen.amount_received).toBe(500);
    const dinar = await pay(merchant, 1_500, 'kwd');
    expect(dinar.amount).toBe(1_500);
    expect(dinar.currency).toBe('kwd');

    const jpyTxns = await merchant.stripe.balanceTransactions.list({ currency: 'jpy' });
    expect(jpyTxns.data).toHaveLength(1);
    // ¥500 × 2.90% = ¥14.5 → ¥15 (half up, whole yen: JPY has no minor unit).
    expect(jpyTxns.data[0]).toMatchObject({ currency: 'jpy', amount: 500, fee: 15, net: 485, source: yen.latest_charge });
    const kwdTxns = await merchant.stripe.balanceTransactions.list({ currency: 'kwd' });
    // 1.500 KWD × 2.90% = 0.0435 → 0.044 (44 fils).
    expect(kwdTxns.data[0]).toMatchObject({ currency: 'kwd', amount: 1_500, fee: 44, net: 1_456 });

    const balance = await merchant.stripe.balance.retrieve();
    expect(availableIn(balance, 'jpy')).toBe(485);
    expect(availableIn(balance, 'kwd')).toBe(1_456);
    expect(balance.available.map((entry) => entry.currency).sort()).toEqual(['jpy', 'kwd']);

    const refund = await merchant.stripe.refunds.create({ payment_intent: yen.id, amount: 100 });
    expect(refund.currency).toBe('jpy');
    const refundTxn = await merchant.stripe.balanceTransactions.retrieve(refund.balance_transaction as string);
    expect(refundTxn).toMatchObject({ currency: 'jpy', amount: -100, net: -100 });
    expect(availableIn(await merchant.stripe.balance.retrieve(), 'jpy')).toBe(385);
  });

  it('shows an authorization as pending and moves the captured part to available', async () => {
    const merchant = await env.createMerchant();
    const pi = await pay(merchant, 8_000, 'eur', { capture_method: 'manual' });
    const held = await merchant.stripe.balance.retrieve();
    expect(held.pending.find((e) => e.currency === 'eur')?.amount).toBe(8_000);
    expect(availableIn(held, 'eur')).toBe(0);
    expect((await merchant.stripe.balanceTransactions.list()).data).toHaveLength(0);
    await merchant.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 5_000 });
    const after = await merchant.stripe.balance.retrieve();
    expect(after.pending.find((e) => e.currency === 'eur')?.amount).toBe(0);
    expect(availableIn(after, 'eur')).toBe(5_000 - 145);
  });

  it('filters balance transactions by type and source and refuses an unknown type', async () => {
    const merchant = await fundedMerchant();
    const pi = await pay(merchant, 2_000);
    const refund = await merchant.stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    const charges = await merchant.stripe.balanceTransactions.list({ type: 'charge' });
    expect(charges.data.every((t) => t.type === 'charge' && t.amount > 0)).toBe(true);
    expect(charges.data).toHaveLength(2);
    const refunds = await merchant.stripe.balanceTransactions.list({ type: 'refund' });
    expect(refunds.data.map((t) => t.id)).toEqual([refund.balance_transaction]);
    const bySource = await merchant.stripe.balanceTransactions.list({ source: pi.latest_charge as string });
    expect(bySource.data.map((t) => t.amount)).toEqual([2_000]);
    const bad = await rawRequest(env.url, { path: '/v1/balance_transactions?type=payout_reversal_x', key: merchant.secretKey });
    expect(bad.status).toBe(400);
    expectStripeError(bad.body, { param: 'type' });
  });
});

describe('Events', () => {
  it('records each state change as a Stripe-shaped event carrying the object and the request', async () => {
    const merchant = await env.createMerchant();
    const pi = await merchant.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: 'evt-check-1' });
    const events = await merchant.stripe.events.list();
    expectStripeShape('list', events);
    expect(events.url).toBe('/v1/events');
    const types = events.data.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['payment_intent.created', 'payment_intent.succeeded', 'charge.succeeded']));
    for (const event of events.data) expectStripeShape('event', event);

    const succeeded = events.data.find((e) => e.type === 'payment_intent.succeeded')!;
    const object = succeeded.data.object;
    expectStripeShape('payment_intent', object);
    expect(object.id).toBe(pi.id);
    expect(object.status).toBe('succeeded');
    expect(succeeded.request?.id).toMatch(/^req_/);
    expect(succeeded.request?.idempotency_key).toBe('evt-check-1');
    expect(succeeded.livemode).toBe(false);
    const created = events.data.find((e) => e.type === 'payment_intent.created')!;
    // The object as it was when created: with its payment method, before the confirmation.
    expect((created.data.object).status).toBe('requires_confirmation');
    expect((created.data.object).amount_received).toBe(0);

    const fetched = await merchant.stripe.events.retrieve(succeeded.id);
    const { lastResponse: _a, ...a } = fetched;
    expect(a).toEqual(succeeded);
  });

  it('filters events by exact type, by a prefix like payment_intent.*, and by created', async () => {
    const merchant = await fundedMerchant();
    const pi = await pay(merchant, 1_000);
    await merchant.stripe.refunds.create({ payment_intent: pi.id, amount: 100 });
    await merchant.stripe.customers.create({ name: 'Evented' });

    const exact = await merchant.stripe.events.list({ type: 'refund.created' });
    expect(exact.data).toHaveLength(1);
    expect(exact.data[0]?.type).toBe('refund.created');

    const prefixed = await merchant.stripe.events.list({ type: 'payment_intent.*', limit: 100 });
    expect(prefixed.data.length).toBeGreaterThanOrEqual(4);
    expect(prefixed.data.every((e) => e.type.startsWith('payment_intent.'))).toBe(true);

    const charges = await merchant.stripe.events.list({ type: 'charge.*', limit: 100 });
    expect(new Set(charges.data.map((e) => e.type))).toEqual(new Set(['charge.succeeded', 'charge.refunded']));

    const several = await merchant.stripe.events.list({ types: ['customer.created', 'refund.created'] });
    expect(new Set(several.data.map((e) => e.type))).toEqual(new Set(['customer.created', 'refund.created']));

    const all = await merchant.stripe.events.list({ limit: 100 });
    const newest = all.data[0]!.created;
    const recent = await merchant.stripe.events.list({ created: { gte: newest - 60 }, limit: 100 });
    expect(recent.data).toHaveLength(all.data.length);
    const none = await merchant.stripe.events.list({ created: { gt: newest + 60 } });
    expect(none.data).toHaveLength(0);
    const underscore = await merchant.stripe.events.list({ type: 'payment%intent.*' });
    expect(underscore.data).toHaveLength(0);
  });

  it('answers 404 for an unknown event', async () => {
    const merchant = await env.createMerchant();
    const error = await sdkFailure(merchant.stripe.events.retrieve('evt_missing000000000000000000'), StripeInvalidRequestError);
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe('resource_missing');
  });
});
