/**
 * Cursor pagination (the SDK's auto-pagination, starting_after, ending_before) over every list, and
 * tenant isolation: one merchant can neither read, change, use nor list another merchant's objects.
 */
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../support/fenpay.ts';
import { expectStripeError, expectStripeShape, rawRequest, sdkFailure } from './stripe-shape.ts';

const { StripeInvalidRequestError } = Stripe.errors;

let env: TestFenpay;

beforeAll(async () => {
  env = await startTestFenpay();
});

afterAll(async () => {
  await env?.close();
});

describe('pagination', () => {
  let merchant: TestMerchant;
  let intents: Stripe.PaymentIntent[];

  beforeAll(async () => {
    merchant = await env.createMerchant();
    intents = [];
    // Sequential, so `created` order is creation order (ties broken by id, as the list does).
    for (let n = 1; n <= 23; n++) intents.push(await merchant.stripe.paymentIntents.create({ amount: n * 100, currency: 'usd' }));
  });

  it('auto-paginates every PaymentIntent exactly once, newest first', async () => {
    const seen: Stripe.PaymentIntent[] = [];
    for await (const pi of merchant.stripe.paymentIntents.list({ limit: 5 })) seen.push(pi);
    expect(seen).toHaveLength(23);
    expect(new Set(seen.map((pi) => pi.id)).size).toBe(23);
    expect(new Set(seen.map((pi) => pi.id))).toEqual(new Set(intents.map((pi) => pi.id)));
    for (let k = 1; k < seen.length; k++) expect(seen[k - 1]!.created).toBeGreaterThanOrEqual(seen[k]!.created);
    const asArray = await merchant.stripe.paymentIntents.list({ limit: 7 }).autoPagingToArray({ limit: 100 });
    expect(asArray.map((pi) => pi.id)).toEqual(seen.map((pi) => pi.id));
  });

  it('walks forward with starting_after and back with ending_before to the same pages', async () => {
    const page1 = await merchant.stripe.paymentIntents.list({ limit: 10 });
    expect(page1.data).toHaveLength(10);
    expect(page1.has_more).toBe(true);
    const page2 = await merchant.stripe.paymentIntents.list({ limit: 10, starting_after: page1.data[9]!.id });
    expect(page2.data).toHaveLength(10);
    expect(page2.has_more).toBe(true);
    const page3 = await merchant.stripe.paymentIntents.list({ limit: 10, starting_after: page2.data[9]!.id });
    expect(page3.data).toHaveLength(3);
    expect(page3.has_more).toBe(false);
    const ids = [...page1.data, ...page2.data, ...page3.data].map((pi) => pi.id);
    expect(new Set(ids).size).toBe(23);

    const back2 = await merchant.stripe.paymentIntents.list({ limit: 10, ending_before: page3.data[0]!.id });
    expect(back2.data.map((pi) => pi.id)).toEqual(page2.data.map((pi) => pi.id));
    expect(back2.has_more).toBe(true);
    const back1 = await merchant.stripe.paymentIntents.list({ limit: 10, ending_before: page2.data[0]!.id });
    expect(back1.data.map((pi) => pi.id)).toEqual(page1.data.map((pi) => pi.id));
    expect(back1.has_more).toBe(false);
    const beforeNewest = await merchant.stripe.paymentIntents.list({ ending_before: page1.data[0]!.id });
    expect(beforeNewest.data).toHaveLength(0);
    expect(beforeNewest.has_more).toBe(false);
  });

  it('auto-paginates backwards when the first request uses ending_before', async () => {
    const all = await merchant.stripe.paymentIntents.list({ limit: 100 });
    const oldest = all.data[all.data.length - 1]!;
    const newer: string[] = [];
    for await (const pi of merchant.stripe.paymentIntents.list({ limit: 4, ending_before: oldest.id })) newer.push(pi.id);
    expect(newer).toHaveLength(22);
    expect(new Set(newer)).toEqual(new Set(all.data.slice(0, 22).map((pi) => pi.id)));
  });

  it('refuses starting_after together with ending_before, and an unknown cursor', async () => {
    const both = await rawRequest(env.url, { path: `/v1/payment_intents?starting_after=${intents[0]!.id}&ending_before=${intents[1]!.id}`, key: merchant.secretKey });
    expect(both.status).toBe(400);
    expectStripeError(both.body, { type: 'invalid_request_error' });
    const unknown = await sdkFailure(merchant.stripe.paymentIntents.list({ starting_after: 'pi_unknown000000000000000000' }), StripeInvalidRequestError);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.param).toBe('starting_after');
  });

  it('refuses a created bound outside years 1–9999, naming it, instead of failing in the database', async () => {
    for (const [query, param] of [['created[gt]=99999999999999999', 'created[gt]'], ['created=1e308', 'created'], ['created[lte]=-99999999999999', 'created[lte]']] as const) {
      for (const list of ['payment_intents', 'events', 'balance_transactions', 'customers', 'refunds']) {
        const response = await rawRequest(env.url, { path: `/v1/${list}?${query}`, key: merchant.secretKey });
        expect(response.status, `${list}?${query}`).toBe(400);
        expectStripeError(response.body, { type: 'invalid_request_error', param });
      }
    }
    const farFuture = await merchant.stripe.paymentIntents.list({ created: { gte: 253_402_300_799 } });
    expect(farFuture.data).toHaveLength(0);
  });

  it('auto-paginates customers, events, refunds and balance transactions', async () => {
    const other = await env.createMerchant();
    const float = await other.stripe.paymentIntents.create({ amount: 1_000_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const customers: string[] = [];
    for (let n = 0; n < 12; n++) customers.push((await other.stripe.customers.create({ email: `c${n}@example.com` })).id);
    const refunds: string[] = [];
    for (let n = 1; n <= 7; n++) refunds.push((await other.stripe.refunds.create({ payment_intent: float.id, amount: n })).id);

    const listedCustomers = await other.stripe.customers.list({ limit: 5 }).autoPagingToArray({ limit: 100 });
    expect(new Set(listedCustomers.map((c) => c.id))).toEqual(new Set(customers));
    expect(listedCustomers).toHaveLength(12);

    const listedRefunds = await other.stripe.refunds.list({ limit: 3 }).autoPagingToArray({ limit: 100 });
    expect(listedRefunds.map((r) => r.id).sort()).toEqual([...refunds].sort());

    const txns = await other.stripe.balanceTransactions.list({ limit: 3 }).autoPagingToArray({ limit: 100 });
    expect(txns).toHaveLength(8);
    expect(new Set(txns.map((t) => t.id)).size).toBe(8);
    for (const t of txns) expectStripeShape('balance_transaction', t);

    const firstPage = await other.stripe.events.list({ limit: 4 });
    const events = await other.stripe.events.list({ limit: 4 }).autoPagingToArray({ limit: 1000 });
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.filter((e) => e.type === 'customer.created')).toHaveLength(12);
    expect(events.filter((e) => e.type === 'refund.created')).toHaveLength(7);
    expect(events.slice(0, 4).map((e) => e.id)).toEqual(firstPage.data.map((e) => e.id));
  });
});

describe('isolation between merchants', () => {
  let a: TestMerchant;
  let b: TestMerchant;
  const ids = { pi: '', authorized: '', customer: '', pm: '', refund: '', event: '', txn: '', charge: '' };

  beforeAll(async () => {
    a = await env.createMerchant({ name: 'Shop A' });
    b = await env.createMerchant({ name: 'Shop B' });
    const customer = await a.stripe.customers.create({ email: 'a-only@example.com' });
    const pm = await a.stripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: new Date().getUTCFullYear() + 1 } });
    await a.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    await a.stripe.paymentIntents.create({ amount: 500_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const pi = await a.stripe.paymentIntents.create({ amount: 5_000, currency: 'usd', customer: customer.id, payment_method: pm.id, confirm: true });
    const authorized = await a.stripe.paymentIntents.create({ amount: 3_000, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    const refund = await a.stripe.refunds.create({ payment_intent: pi.id, amount: 1_000 });
    const event = (await a.stripe.events.list({ limit: 1 })).data[0]!;
    const txn = (await a.stripe.balanceTransactions.list({ limit: 1 })).data[0]!;
    Object.assign(ids, { pi: pi.id, authorized: authorized.id, customer: customer.id, pm: pm.id, refund: refund.id, event: event.id, txn: txn.id, charge: pi.latest_charge as string });
  });

  it('answers 404 to merchant B for each of merchant A\'s objects', async () => {
    const reads: [string, () => Promise<unknown>][] = [
      ['payment intent', () => b.stripe.paymentIntents.retrieve(ids.pi)],
      ['customer', () => b.stripe.customers.retrieve(ids.customer)],
      ['payment method', () => b.stripe.paymentMethods.retrieve(ids.pm)],
      ['refund', () => b.stripe.refunds.retrieve(ids.refund)],
      ['event', () => b.stripe.events.retrieve(ids.event)],
      ['balance transaction', () => b.stripe.balanceTransactions.retrieve(ids.txn)],
      ['customer payment methods', () => b.stripe.customers.listPaymentMethods(ids.customer)],
    ];
    for (const [label, read] of reads) {
      const error = await sdkFailure(read(), StripeInvalidRequestError);
      expect(error.statusCode, label).toBe(404);
      expect(error.code, label).toBe('resource_missing');
      expect(error.message, label).not.toMatch(/live mode|test mode/);
    }
  });

  it('lets merchant B change nothing of merchant A\'s', async () => {
    const writes: [string, () => Promise<unknown>][] = [
      ['update payment intent', () => b.stripe.paymentIntents.update(ids.pi, { metadata: { hacked: 'yes' } })],
      ['capture', () => b.stripe.paymentIntents.capture(ids.authorized)],
      ['cancel', () => b.stripe.paymentIntents.cancel(ids.authorized)],
      ['confirm', () => b.stripe.paymentIntents.confirm(ids.authorized, { payment_method: 'pm_card_visa' })],
      ['refund by payment intent', () => b.stripe.refunds.create({ payment_intent: ids.pi, amount: 1 })],
      ['refund by charge', () => b.stripe.refunds.create({ charge: ids.charge, amount: 1 })],
      ['update customer', () => b.stripe.customers.update(ids.customer, { name: 'hacked' })],
      ['delete customer', () => b.stripe.customers.del(ids.customer)],
      ['detach payment method', () => b.stripe.paymentMethods.detach(ids.pm)],
      ['attach payment method', () => b.stripe.paymentMethods.attach(ids.pm, { customer: ids.customer })],
      ['charge payment method', () => b.stripe.paymentIntents.create({ amount: 100, currency: 'usd', payment_method: ids.pm, confirm: true })],
      ['pay for customer', () => b.stripe.paymentIntents.create({ amount: 100, currency: 'usd', customer: ids.customer })],
    ];
    for (const [label, write] of writes) {
      const error = await sdkFailure(write(), StripeInvalidRequestError);
      expect(error.statusCode, label).toBe(404);
    }
    const pi = await a.stripe.paymentIntents.retrieve(ids.pi);
    expect(pi.metadata).toEqual({});
    expect((await a.stripe.paymentIntents.retrieve(ids.authorized)).status).toBe('requires_capture');
    expect(((await a.stripe.customers.retrieve(ids.customer)) as Stripe.Customer).email).toBe('a-only@example.com');
    expect((await a.stripe.paymentMethods.retrieve(ids.pm)).customer).toBe(ids.customer);
    expect((await a.stripe.refunds.list()).data).toHaveLength(1);
  });

  it('never shows merchant A\'s objects in merchant B\'s lists, balance or cursors', async () => {
    await b.stripe.customers.create({ email: 'b@example.com' });
    const all = JSON.stringify([
      await b.stripe.paymentIntents.list({ limit: 100 }),
      await b.stripe.customers.list({ limit: 100 }),
      await b.stripe.refunds.list({ limit: 100 }),
      await b.stripe.events.list({ limit: 100 }),
      await b.stripe.balanceTransactions.list({ limit: 100 }),
      await b.stripe.customers.list({ email: 'a-only@example.com' }),
    ]);
    for (const id of Object.values(ids)) expect(all).not.toContain(id);
    expect(all).not.toContain('a-only@example.com');
    expect((await b.stripe.paymentIntents.list({ customer: ids.customer })).data).toHaveLength(0);
    expect((await b.stripe.refunds.list({ payment_intent: ids.pi })).data).toHaveLength(0);
    expect((await b.stripe.balanceTransactions.list({ source: ids.charge })).data).toHaveLength(0);
    const balance = await b.stripe.balance.retrieve();
    expect(balance.available.every((entry) => entry.amount === 0)).toBe(true);
    expect(balance.pending.every((entry) => entry.amount === 0)).toBe(true);
    const cursor = await sdkFailure(b.stripe.paymentIntents.list({ starting_after: ids.pi }), StripeInvalidRequestError);
    expect(cursor.statusCode).toBe(404);
    const eventCursor = await sdkFailure(b.stripe.events.list({ ending_before: ids.event }), StripeInvalidRequestError);
    expect(eventCursor.statusCode).toBe(404);
  });
});
