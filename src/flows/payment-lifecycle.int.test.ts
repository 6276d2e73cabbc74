/**
 * The PaymentIntent state machine end to end, on a real Fenpay with an injected clock: every
 * transition the API can produce, refusals from every status, the card whose answer never comes,
 * expiry of unpaid intents and of uncaptured authorizations, and the events each transition writes.
 *
 * Every write goes through the WriteBatcher, so a spy on it sees each committed status change of a
 * PaymentIntent (including the intermediate `processing` of a confirmation) and the last test holds
 * all of them against `intentTransitions`.
 */
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripeError } from '../../test/support/stripe-error.ts';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../../test/support/fenpay.ts';
import type { WriteResult, WriteSet } from '../db/index.ts';
import { intentStatuses, intentTransitions, type IntentStatus } from '../payments/index.ts';
import { sandboxTimeoutCardNumber } from '../sandbox/cards/index.ts';
import { expireAuthorizations, expirePaymentIntents, syncAttempt, type Services } from './index.ts';

const settleSeconds = 20;
const intentExpirySeconds = 900;
const authorizationExpirySeconds = 86_400;

const clock = { now: new Date() };
function advance(seconds: number): void {
  clock.now = new Date(clock.now.getTime() + seconds * 1000);
}

let env: TestFenpay;
let shop: TestMerchant;
let stripe: Stripe;
let services: Services;

/** Committed status changes of PaymentIntents, as the WriteBatcher applied them. */
const transitions: { id: string; from: string; to: string }[] = [];
const createdAs: string[] = [];

beforeAll(async () => {
  env = await startTestFenpay({
    now: () => clock.now,
    withoutJobQueue: true,
    env: {
      SANDBOX_TIMEOUT_CARD_SETTLE_SECONDS: String(settleSeconds),
      PAYMENT_INTENT_EXPIRY_SECONDS: String(intentExpirySeconds),
      AUTHORIZATION_EXPIRY_SECONDS: String(authorizationExpirySeconds),
    },
  });
  services = env.fenpay.services;
  shop = await env.createMerchant({ name: 'Lifecycle shop' });
  stripe = shop.stripe;

  const batcher = services.batcher;
  const submit = batcher.submit.bind(batcher);
  batcher.submit = async (writeSet: WriteSet): Promise<WriteResult> => {
    const updates = (writeSet.updates ?? []).filter((u) => u.table === 'payment_intents');
    const before = new Map<string, string>();
    for (const u of updates) {
      const id = String(u.key.id);
      const row = await env.database.pool.query<{ status: string }>('SELECT status FROM payment_intents WHERE id = $1', [id]);
      if (row.rows[0]) before.set(id, row.rows[0].status);
    }
    const result = await submit(writeSet);
    if (result.ok) {
      for (const insert of writeSet.inserts ?? []) if (insert.table === 'payment_intents') createdAs.push(String(insert.row.status));
      for (const u of updates) {
        const id = String(u.key.id);
        // An update names status only when it changes it (intentUpdate writes changed columns).
        if (!('status' in u.set)) continue;
        const to = String(u.set.status);
        const from = before.get(id);
        if (from !== undefined && from !== to) transitions.push({ id, from, to });
      }
    }
    return result;
  };
});

afterAll(async () => {
  await env?.close();
});

// ─── helpers ────────────────────────────────────────────────────────────────────────────────


async function cardPaymentMethod(number: string): Promise<string> {
  const pm = await stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: clock.now.getUTCFullYear() + 3 } });
  return pm.id;
}

/** Completes (or fails) the sandbox 3-D Secure challenge the way the payer's browser would. */
async function answerChallenge(pi: Stripe.PaymentIntent, result: 'approve' | 'fail'): Promise<void> {
  const url = pi.next_action?.redirect_to_url?.url;
  expect(url).toBeTruthy();
  const response = await fetch(url!.replace(services.config.publicUrl, env.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `result=${result}`,
    redirect: 'manual',
  });
  expect([200, 303]).toContain(response.status);
}

interface EventRow {
  id: string;
  type: string;
  status: string | null;
  xmin: string;
}

const seenEvents = new Set<string>();

/** Events about `objectId` written since the last call. */
async function newEvents(objectId: string): Promise<EventRow[]> {
  const rows = await env.database.pool.query<EventRow>(
    `SELECT id, type, data->'object'->>'status' AS status, xmin::text AS xmin FROM events WHERE object_id = $1 ORDER BY created_at, id`,
    [objectId],
  );
  const fresh = rows.rows.filter((r) => !seenEvents.has(r.id));
  for (const r of fresh) seenEvents.add(r.id);
  return fresh;
}

const statusInEvent: Record<string, string> = {
  'payment_intent.processing': 'processing',
  'payment_intent.requires_action': 'requires_action',
  'payment_intent.amount_capturable_updated': 'requires_capture',
  'payment_intent.succeeded': 'succeeded',
  'payment_intent.payment_failed': 'requires_payment_method',
  'payment_intent.canceled': 'canceled',
};

/**
 * Asserts which events the last operation wrote about `objectId` (in any order), that each carries the
 * object in the state the event names, and that those of `lastTransaction` were written by the same
 * database transaction as the object's current row version.
 */
async function expectEvents(objectId: string, table: 'payment_intents' | 'refunds', expected: { types: string[]; lastTransaction?: string[] }): Promise<EventRow[]> {
  const fresh = await newEvents(objectId);
  expect(fresh.map((e) => e.type).sort()).toEqual([...expected.types].sort());
  for (const e of fresh) if (statusInEvent[e.type] !== undefined) expect(e.status, e.type).toBe(statusInEvent[e.type]);
  const last = expected.lastTransaction ?? expected.types;
  if (last.length > 0) {
    const row = await env.database.pool.query<{ xmin: string }>(`SELECT xmin::text AS xmin FROM ${table} WHERE id = $1`, [objectId]);
    expect(fresh.filter((e) => e.xmin === row.rows[0]!.xmin).map((e) => e.type).sort()).toEqual([...last].sort());
  }
  return fresh;
}

async function attemptsOf(piId: string): Promise<{ id: string; status: string; sync_count: number }[]> {
  const rows = await env.database.pool.query<{ id: string; status: string; sync_count: number }>(
    'SELECT id, status, sync_count FROM payment_attempts WHERE payment_intent_id = $1 ORDER BY created_at, id',
    [piId],
  );
  return rows.rows;
}

async function transfersOf(attemptId: string): Promise<{ code: string; phase: string; amount: bigint; pending_id: string | null; id: string }[]> {
  const rows = await env.database.pool.query<{ code: string; phase: string; amount: bigint; pending_id: string | null; id: string }>(
    'SELECT id, code, phase, amount, pending_id FROM ledger_transfers WHERE source_id = $1 ORDER BY created_at, code',
    [attemptId],
  );
  return rows.rows;
}

async function snapshot(piId: string): Promise<unknown> {
  const [pi, events, attempts, transfers] = await Promise.all([
    env.database.pool.query('SELECT status, version, amount, amount_received, amount_capturable, amount_refunded FROM payment_intents WHERE id = $1', [piId]),
    env.database.pool.query<{ n: bigint }>('SELECT count(*)::int8 AS n FROM events WHERE object_id = $1', [piId]),
    env.database.pool.query<{ n: bigint }>('SELECT count(*)::int8 AS n FROM payment_attempts WHERE payment_intent_id = $1', [piId]),
    env.database.pool.query<{ n: bigint }>('SELECT count(*)::int8 AS n FROM ledger_transfers t JOIN payment_attempts a ON a.id = t.source_id WHERE a.payment_intent_id = $1', [piId]),
  ]);
  return { pi: pi.rows[0], events: events.rows[0]!.n, attempts: attempts.rows[0]!.n, transfers: transfers.rows[0]!.n };
}

async function balance(currency: string): Promise<{ available: number; pending: number }> {
  const b = await stripe.balance.retrieve();
  return {
    available: b.available.find((e) => e.currency === currency)?.amount ?? 0,
    pending: b.pending.find((e) => e.currency === currency)?.amount ?? 0,
  };
}

function fee(amount: number): number {
  // The documented rule: 2.90 %, halves rounded up (integer arithmetic only).
  return Math.floor((amount * 290 + 5_000) / 10_000);
}

// ─── transitions ────────────────────────────────────────────────────────────────────────────

describe('transitions the API produces', () => {
  it('requires_payment_method → requires_confirmation → processing → succeeded: create, attach a method, confirm', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 2_000, currency: 'usd' });
    expect(pi.status).toBe('requires_payment_method');
    await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.created'], lastTransaction: [] });
    const updated = await stripe.paymentIntents.update(pi.id, { payment_method: 'pm_card_visa' });
    expect(updated.status).toBe('requires_confirmation');
    await expectEvents(pi.id, 'payment_intents', { types: [] });
    const confirmed = await stripe.paymentIntents.confirm(pi.id);
    expect(confirmed.status).toBe('succeeded');
    expect(confirmed.amount_received).toBe(2_000);
    await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.succeeded'] });
    const charge = await newEvents(confirmed.latest_charge as string);
    expect(charge.map((e) => e.type)).toEqual(['charge.succeeded']);
  });

  it('requires_payment_method → canceled and requires_confirmation → canceled', async () => {
    const bare = await stripe.paymentIntents.create({ amount: 500, currency: 'eur' });
    const withMethod = await stripe.paymentIntents.create({ amount: 500, currency: 'eur', payment_method: 'pm_card_visa' });
    expect(withMethod.status).toBe('requires_confirmation');
    for (const pi of [bare, withMethod]) {
      await newEvents(pi.id);
      const canceled = await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'abandoned' });
      expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
      await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.canceled'] });
    }
  });

  it('processing → requires_payment_method on a decline, then a second attempt succeeds', async () => {
    const error = await stripeError(stripe.paymentIntents.create({ amount: 1_234, currency: 'usd', payment_method: 'pm_card_chargeDeclinedInsufficientFunds', confirm: true }));
    expect(error).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: 'insufficient_funds' });
    const failed = error.payment_intent!;
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.last_payment_error).toMatchObject({ code: 'card_declined', decline_code: 'insufficient_funds' });
    await expectEvents(failed.id, 'payment_intents', { types: ['payment_intent.created', 'payment_intent.payment_failed'], lastTransaction: ['payment_intent.payment_failed'] });
    const paid = await stripe.paymentIntents.confirm(failed.id, { payment_method: 'pm_card_mastercard' });
    expect(paid).toMatchObject({ status: 'succeeded', amount_received: 1_234, last_payment_error: null });
    await expectEvents(failed.id, 'payment_intents', { types: ['payment_intent.succeeded'] });
    const attempts = await attemptsOf(failed.id);
    expect(attempts.map((a) => a.status).sort()).toEqual(['failed', 'succeeded']);
    expect(await transfersOf(attempts.find((a) => a.status === 'failed')!.id)).toEqual([]);
    expect(paid.latest_charge).toBe(attempts.find((a) => a.status === 'succeeded')!.id);
  });

  it('processing → requires_capture → succeeded: a manual capture, partial', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 10_000, currency: 'jpy', payment_method: 'pm_card_jcb', capture_method: 'manual', confirm: true });
    expect(pi).toMatchObject({ status: 'requires_capture', amount_capturable: 10_000, amount_received: 0 });
    await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.created', 'payment_intent.amount_capturable_updated'], lastTransaction: ['payment_intent.amount_capturable_updated'] });
    const captured = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 7_500 });
    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 7_500, amount_capturable: 0 });
    await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.succeeded'] });
    const transfers = await transfersOf(pi.latest_charge as string);
    expect(transfers.map((t) => [t.code, t.phase, t.amount])).toEqual([
      ['authorization', 'pending', 10_000n],
      ['capture', 'post', 7_500n],
      ['fee', 'single', BigInt(fee(7_500))],
    ]);
  });

  it('requires_capture → canceled releases the authorization', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 4_000, currency: 'gbp', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
    expect(await balance('gbp')).toEqual({ available: 0, pending: 4_000 });
    await newEvents(pi.id);
    const canceled = await stripe.paymentIntents.cancel(pi.id);
    expect(canceled).toMatchObject({ status: 'canceled', amount_capturable: 0 });
    await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.canceled'] });
    expect(await balance('gbp')).toEqual({ available: 0, pending: 0 });
  });

  it('processing → requires_action → succeeded, and → requires_capture with manual capture: 3-D Secure completed', async () => {
    for (const captureMethod of ['automatic', 'manual'] as const) {
      const pi = await stripe.paymentIntents.create({
        amount: 3_000, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', capture_method: captureMethod, confirm: true, return_url: 'https://shop.example/return',
      });
      expect(pi.status).toBe('requires_action');
      expect(pi.next_action?.type).toBe('redirect_to_url');
      await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.created', 'payment_intent.requires_action'], lastTransaction: ['payment_intent.requires_action'] });
      await answerChallenge(pi, 'approve');
      const after = await stripe.paymentIntents.retrieve(pi.id);
      expect(after.status).toBe(captureMethod === 'automatic' ? 'succeeded' : 'requires_capture');
      expect(after.next_action).toBeNull();
      await expectEvents(pi.id, 'payment_intents', { types: [captureMethod === 'automatic' ? 'payment_intent.succeeded' : 'payment_intent.amount_capturable_updated'] });
    }
  });

  it('requires_action → requires_payment_method when the payer fails the challenge, and → canceled when the merchant cancels', async () => {
    const failing = await stripe.paymentIntents.create({ amount: 3_100, currency: 'usd', payment_method: 'pm_card_authenticationRequired', confirm: true, return_url: 'https://shop.example/return' });
    await newEvents(failing.id);
    await answerChallenge(failing, 'fail');
    const failed = await stripe.paymentIntents.retrieve(failing.id);
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.last_payment_error?.code).toBeTruthy();
    await expectEvents(failing.id, 'payment_intents', { types: ['payment_intent.payment_failed'] });

    const abandoned = await stripe.paymentIntents.create({ amount: 3_200, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true, return_url: 'https://shop.example/return' });
    await newEvents(abandoned.id);
    const canceled = await stripe.paymentIntents.cancel(abandoned.id, { cancellation_reason: 'requested_by_customer' });
    expect(canceled.status).toBe('canceled');
    await expectEvents(abandoned.id, 'payment_intents', { types: ['payment_intent.canceled'] });
    // The challenge was closed at the acquirer: a late answer from the payer changes nothing.
    await answerChallenge(abandoned, 'approve');
    expect((await stripe.paymentIntents.retrieve(abandoned.id)).status).toBe('canceled');
    expect(await transfersOf(abandoned.latest_charge as string)).toEqual([]);
  });

  it('a refund writes refund.created, then refund.updated and charge.refunded in the transaction that settles it', async () => {
    // Fund the balance first so the refund is not refused for balance.
    await stripe.paymentIntents.create({ amount: 50_000, currency: 'cad', payment_method: 'pm_card_visa', confirm: true });
    const pi = await stripe.paymentIntents.create({ amount: 8_000, currency: 'cad', payment_method: 'pm_card_visa', confirm: true });
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 3_000 });
    expect(refund.status).toBe('succeeded');
    await expectEvents(refund.id, 'refunds', { types: ['refund.created', 'refund.updated'], lastTransaction: ['refund.updated'] });
    const chargeEvents = await newEvents(pi.latest_charge as string);
    expect(chargeEvents.map((e) => e.type).sort()).toEqual(['charge.refunded', 'charge.succeeded']);
    const refundRow = await env.database.pool.query<{ xmin: string }>('SELECT xmin::text AS xmin FROM refunds WHERE id = $1', [refund.id]);
    expect(chargeEvents.find((e) => e.type === 'charge.refunded')!.xmin).toBe(refundRow.rows[0]!.xmin);
    const refunded = await env.database.pool.query<{ amount_refunded: bigint }>('SELECT amount_refunded FROM payment_intents WHERE id = $1', [pi.id]);
    expect(refunded.rows[0]!.amount_refunded).toBe(3_000n);
  });
});

// ─── refusals ───────────────────────────────────────────────────────────────────────────────

describe('operations a status does not allow', () => {
  type Operation = 'confirm' | 'capture' | 'cancel' | 'update_amount' | 'refund';
  const allowed: Record<IntentStatus, readonly Operation[]> = {
    requires_payment_method: ['confirm', 'cancel', 'update_amount'],
    requires_confirmation: ['confirm', 'cancel', 'update_amount'],
    requires_action: ['cancel'],
    processing: [],
    requires_capture: ['capture', 'cancel'],
    succeeded: ['refund'],
    canceled: [],
  };
  const refusedWith: Record<Operation, string> = {
    confirm: 'payment_intent_unexpected_state',
    capture: 'payment_intent_unexpected_state',
    cancel: 'payment_intent_unexpected_state',
    update_amount: 'payment_intent_unexpected_state',
    refund: 'refund_requires_succeeded_payment',
  };

  async function intentIn(status: IntentStatus): Promise<string> {
    switch (status) {
      case 'requires_payment_method':
        return (await stripe.paymentIntents.create({ amount: 700, currency: 'usd' })).id;
      case 'requires_confirmation':
        return (await stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: 'pm_card_visa' })).id;
      case 'requires_action':
        return (await stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true, return_url: 'https://shop.example/r' })).id;
      case 'processing':
        return (await stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: await cardPaymentMethod(sandboxTimeoutCardNumber), confirm: true })).id;
      case 'requires_capture':
        return (await stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true })).id;
      case 'succeeded':
        return (await stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: 'pm_card_visa', confirm: true })).id;
      case 'canceled': {
        const id = (await stripe.paymentIntents.create({ amount: 700, currency: 'usd' })).id;
        await stripe.paymentIntents.cancel(id);
        return id;
      }
    }
  }

  function run(operation: Operation, id: string): Promise<unknown> {
    switch (operation) {
      case 'confirm':
        return stripe.paymentIntents.confirm(id, { payment_method: 'pm_card_visa' });
      case 'capture':
        return stripe.paymentIntents.capture(id);
      case 'cancel':
        return stripe.paymentIntents.cancel(id);
      case 'update_amount':
        return stripe.paymentIntents.update(id, { amount: 701 });
      case 'refund':
        return stripe.refunds.create({ payment_intent: id });
    }
  }

  for (const status of intentStatuses) {
    const refused = (Object.keys(refusedWith) as Operation[]).filter((op) => !allowed[status].includes(op));
    it(`refuses ${refused.join(', ')} on a ${status} intent and changes nothing`, async () => {
      const id = await intentIn(status);
      expect((await stripe.paymentIntents.retrieve(id)).status).toBe(status);
      const before = await snapshot(id);
      for (const operation of refused) {
        const error = await stripeError(run(operation, id));
        expect(error.code, operation).toBe(refusedWith[operation]);
        expect(error.statusCode, operation).toBe(400);
        expect(await snapshot(id), operation).toEqual(before);
      }
    });
  }

  it('refuses to capture more than is capturable, and to capture twice', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 900, currency: 'usd', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
    expect((await stripeError(stripe.paymentIntents.capture(pi.id, { amount_to_capture: 901 }))).code).toBe('amount_to_capture_exceeds_capturable');
    expect((await stripe.paymentIntents.capture(pi.id)).status).toBe('succeeded');
    expect((await stripeError(stripe.paymentIntents.capture(pi.id))).code).toBe('payment_intent_unexpected_state');
    expect((await transfersOf(pi.latest_charge as string)).filter((t) => t.code === 'capture')).toHaveLength(1);
  });
});

// ─── the answer that never comes ────────────────────────────────────────────────────────────

describe('the card whose answer never comes', () => {
  it('stays processing until the acquirer settles, then succeeds once, booked once', async () => {
    const pm = await cardPaymentMethod(sandboxTimeoutCardNumber);
    const pi = await stripe.paymentIntents.create({ amount: 6_789, currency: 'sgd', payment_method: pm, confirm: true });
    expect(pi.status).toBe('processing');
    await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.created', 'payment_intent.processing'], lastTransaction: ['payment_intent.processing'] });
    const [attempt] = await attemptsOf(pi.id);
    expect(attempt).toMatchObject({ status: 'processing' });

    advance(settleSeconds - 1);
    expect(await syncAttempt(services, attempt!.id)).toBe('still_unknown');
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('processing');
    expect(await transfersOf(attempt!.id)).toEqual([]);
    await expectEvents(pi.id, 'payment_intents', { types: [] });
    expect(await balance('sgd')).toEqual({ available: 0, pending: 0 });

    advance(2);
    expect(await syncAttempt(services, attempt!.id)).toBe('final');
    const paid = await stripe.paymentIntents.retrieve(pi.id);
    expect(paid).toMatchObject({ status: 'succeeded', amount_received: 6_789 });
    await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.succeeded'] });
    const booked = await transfersOf(attempt!.id);
    expect(booked.map((t) => [t.code, t.phase, t.amount])).toEqual([['charge', 'single', 6_789n], ['fee', 'single', BigInt(fee(6_789))]]);
    expect(await balance('sgd')).toEqual({ available: 6_789 - fee(6_789), pending: 0 });

    const before = await snapshot(pi.id);
    expect(await syncAttempt(services, attempt!.id)).toBe('not_applicable');
    advance(60);
    expect(await syncAttempt(services, attempt!.id)).toBe('not_applicable');
    expect(await snapshot(pi.id)).toEqual(before);
    expect(await transfersOf(attempt!.id)).toEqual(booked);
  });

  it('books the outcome once when several syncs (worker, sweeper, callback) ask at the same moment', async () => {
    const pm = await cardPaymentMethod(sandboxTimeoutCardNumber);
    const pi = await stripe.paymentIntents.create({ amount: 4_321, currency: 'mxn', payment_method: pm, confirm: true });
    const [attempt] = await attemptsOf(pi.id);
    advance(settleSeconds + 1);
    const results = await Promise.all(Array.from({ length: 6 }, () => syncAttempt(services, attempt!.id)));
    expect(results.filter((r) => r === 'final')).toHaveLength(1);
    expect(results.filter((r) => r !== 'final').every((r) => r === 'not_applicable')).toBe(true);
    expect((await transfersOf(attempt!.id)).map((t) => t.code)).toEqual(['charge', 'fee']);
    expect((await newEvents(pi.id)).filter((e) => e.type === 'payment_intent.succeeded')).toHaveLength(1);
    expect(await balance('mxn')).toEqual({ available: 4_321 - fee(4_321), pending: 0 });
  });

  it('with capture_method=manual settles into requires_capture, holding the amount as pending', async () => {
    const pm = await cardPaymentMethod(sandboxTimeoutCardNumber);
    const pi = await stripe.paymentIntents.create({ amount: 2_500, currency: 'hkd', payment_method: pm, capture_method: 'manual', confirm: true });
    expect(pi.status).toBe('processing');
    const [attempt] = await attemptsOf(pi.id);
    expect(await syncAttempt(services, attempt!.id)).toBe('still_unknown');
    advance(settleSeconds + 1);
    expect(await syncAttempt(services, attempt!.id)).toBe('final');
    expect(await stripe.paymentIntents.retrieve(pi.id)).toMatchObject({ status: 'requires_capture', amount_capturable: 2_500 });
    expect(await balance('hkd')).toEqual({ available: 0, pending: 2_500 });
    expect(await syncAttempt(services, attempt!.id)).toBe('not_applicable');
    expect((await transfersOf(attempt!.id)).map((t) => t.code)).toEqual(['authorization']);
    expect((await stripe.paymentIntents.capture(pi.id)).status).toBe('succeeded');
    expect(await balance('hkd')).toEqual({ available: 2_500 - fee(2_500), pending: 0 });
  });
});

// ─── expiry ─────────────────────────────────────────────────────────────────────────────────

describe('expiry', () => {
  it('cancels unpaid intents with reason expired only once PAYMENT_INTENT_EXPIRY_SECONDS have passed', async () => {
    const bare = await stripe.paymentIntents.create({ amount: 1_000, currency: 'aud' });
    const unconfirmed = await stripe.paymentIntents.create({ amount: 1_000, currency: 'aud', payment_method: 'pm_card_visa' });
    for (const pi of [bare, unconfirmed]) await newEvents(pi.id);

    advance(intentExpirySeconds - 5);
    await expirePaymentIntents(services, { limit: 100 });
    for (const pi of [bare, unconfirmed]) expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe(pi.status);

    advance(10);
    await expirePaymentIntents(services, { limit: 100 });
    for (const pi of [bare, unconfirmed]) {
      const expired = await stripe.paymentIntents.retrieve(pi.id);
      expect(expired).toMatchObject({ status: 'canceled', cancellation_reason: 'expired' });
      await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.canceled'] });
    }
  });

  it('closes a 3-D Secure intent the payer abandoned at the acquirer, then cancels it', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1_800, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true, return_url: 'https://shop.example/r' });
    expect(pi.status).toBe('requires_action');
    await newEvents(pi.id);
    advance(intentExpirySeconds + 1);
    await expirePaymentIntents(services, { limit: 100 });
    const expired = await stripe.paymentIntents.retrieve(pi.id);
    expect(expired).toMatchObject({ status: 'canceled', cancellation_reason: 'expired' });
    await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.canceled'] });
    const [attempt] = await attemptsOf(pi.id);
    expect(attempt!.status).toBe('canceled');
    const order = await env.database.pool.query<{ status: string }>('SELECT status FROM sandbox_card_orders WHERE order_no = (SELECT channel_order_no FROM payment_attempts WHERE id = $1)', [attempt!.id]);
    expect(order.rows[0]?.status).toBe('voided');
    // The payer coming back now cannot pay a closed order.
    await answerChallenge(pi, 'approve');
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('canceled');
    expect(await transfersOf(attempt!.id)).toEqual([]);
  });

  it('books, instead of canceling, an expiring intent whose payer finished the challenge at the last moment', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 2_200, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true, return_url: 'https://shop.example/r' });
    const [attempt] = await attemptsOf(pi.id);
    // The payer approved at the acquirer, but the word never reached Fenpay.
    await env.database.pool.query(
      `UPDATE sandbox_card_orders SET status = 'captured', amount_captured = amount, challenge_completed_at = now()
        WHERE order_no = (SELECT channel_order_no FROM payment_attempts WHERE id = $1)`,
      [attempt!.id],
    );
    advance(intentExpirySeconds + 1);
    await expirePaymentIntents(services, { limit: 100 });
    expect(await stripe.paymentIntents.retrieve(pi.id)).toMatchObject({ status: 'succeeded', amount_received: 2_200, cancellation_reason: null });
    expect((await transfersOf(attempt!.id)).map((t) => t.code)).toEqual(['charge', 'fee']);
  });

  it('leaves a processing intent alone: its outcome is unknown, not unpaid', async () => {
    const pm = await cardPaymentMethod(sandboxTimeoutCardNumber);
    const pi = await stripe.paymentIntents.create({ amount: 1_000, currency: 'chf', payment_method: pm, confirm: true });
    advance(intentExpirySeconds * 3);
    await expirePaymentIntents(services, { limit: 100 });
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('processing');
  });

  it('cancels authorizations not captured within AUTHORIZATION_EXPIRY_SECONDS with reason automatic, voiding the hold', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 5_000, currency: 'nzd', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
    await newEvents(pi.id);
    expect(await balance('nzd')).toEqual({ available: 0, pending: 5_000 });

    advance(authorizationExpirySeconds - 10);
    await expireAuthorizations(services, { limit: 100 });
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_capture');

    advance(20);
    const report = await expireAuthorizations(services, { limit: 100 });
    expect(report.canceled).toBeGreaterThanOrEqual(1);
    expect(await stripe.paymentIntents.retrieve(pi.id)).toMatchObject({ status: 'canceled', cancellation_reason: 'automatic', amount_capturable: 0 });
    await expectEvents(pi.id, 'payment_intents', { types: ['payment_intent.canceled'] });
    const transfers = await transfersOf(pi.latest_charge as string);
    expect(transfers.map((t) => [t.code, t.phase, t.amount])).toEqual([['authorization', 'pending', 5_000n], ['authorization_release', 'void', 5_000n]]);
    expect(transfers[1]!.pending_id).toBe(transfers[0]!.id);
    expect(await balance('nzd')).toEqual({ available: 0, pending: 0 });
    expect((await stripeError(stripe.paymentIntents.capture(pi.id))).code).toBe('payment_intent_unexpected_state');
    // Running expiry again finds nothing more to do for it.
    await expireAuthorizations(services, { limit: 100 });
    expect(await transfersOf(pi.latest_charge as string)).toHaveLength(2);
  });

  it('leaves an authorization whose capture is at the channel to that capture, even past its expiry', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 3_300, currency: 'dkk', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
    // Hold the capture's booking (its last write) while expiry runs.
    const batcher = services.batcher;
    const submit = batcher.submit;
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reached = () => {};
    const bookingHeld = new Promise<void>((resolve) => (reached = resolve));
    batcher.submit = async (writeSet) => {
      if ((writeSet.inserts ?? []).some((i) => i.table === 'events' && i.row.type === 'charge.captured' && i.row.object_id === pi.latest_charge)) {
        reached();
        await gate;
      }
      return await submit.call(batcher, writeSet);
    };
    try {
      const capture = stripe.paymentIntents.capture(pi.id);
      await bookingHeld;
      advance(authorizationExpirySeconds + 1);
      await expireAuthorizations(services, { limit: 100 });
      expect(await env.database.pool.query('SELECT status FROM payment_intents WHERE id = $1', [pi.id]).then((r) => r.rows[0])).toEqual({ status: 'requires_capture' });
      release();
      expect(await capture).toMatchObject({ status: 'succeeded', amount_received: 3_300 });
    } finally {
      release();
      batcher.submit = submit;
    }
    expect((await transfersOf(pi.latest_charge as string)).map((t) => t.code)).toEqual(['authorization', 'capture', 'fee']);
    expect(await stripe.paymentIntents.retrieve(pi.id)).toMatchObject({ status: 'succeeded', cancellation_reason: null });
    expect(await balance('dkk')).toEqual({ available: 3_300 - fee(3_300), pending: 0 });
  });
});

// ─── the machine as a whole ─────────────────────────────────────────────────────────────────

describe('the state machine over everything above', () => {
  /**
   * Legal in intentTransitions for real channels, but the sandbox never answers "pending" for an order
   * that asked for a challenge, so no test here can produce it.
   */
  const notProducible = ['requires_action→processing'];

  it('only ever made transitions intentTransitions allows, and made every one the API can produce', () => {
    const made = new Set(transitions.map((t) => `${t.from}→${t.to}`));
    const illegal = [...made].filter((t) => {
      const [from, to] = t.split('→') as [IntentStatus, IntentStatus];
      return !(intentTransitions[from] ?? []).includes(to);
    });
    expect(illegal).toEqual([]);
    const legal = Object.entries(intentTransitions).flatMap(([from, tos]) => tos.map((to) => `${from}→${to}`));
    for (const t of notProducible) expect(legal).toContain(t);
    expect([...made].sort()).toEqual(legal.filter((t) => !notProducible.includes(t)).sort());
    expect(new Set(createdAs)).toEqual(new Set(['requires_payment_method', 'requires_confirmation', 'processing']));
  });
});
