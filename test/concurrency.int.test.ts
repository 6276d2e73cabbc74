/**
 * Many simultaneous requests over real HTTP against one Fenpay on a real PostgreSQL: racing captures,
 * cancels, refunds and confirmations of one payment; idempotency keys under a burst; and isolation of
 * merchants checked row by row in SQL and path by path in the API. Requests are raw `fetch` calls,
 * all started before any is awaited, with no client retries.
 *
 * The conformance suite (test/conformance/) checks single-request behaviour with the stripe SDK; this
 * file checks what only concurrency or a look at every stored row can show.
 */
import { randomUUID } from 'node:crypto';
import qs from 'qs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxTimeoutCardNumber } from '../src/sandbox/cards/index.ts';
import { startTestFenpay, type TestFenpay, type TestMerchant } from './support/fenpay.ts';

let env: TestFenpay;
let shop: TestMerchant;
let rival: TestMerchant;

beforeAll(async () => {
  env = await startTestFenpay({ withoutJobQueue: true });
  shop = await env.createMerchant({ name: 'Busy shop' });
  rival = await env.createMerchant({ name: 'Rival shop' });
});

afterAll(async () => {
  await env?.close();
});

interface Answer {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly headers: Headers;
}

async function call(secretKey: string, method: 'GET' | 'POST' | 'DELETE', path: string, options: { body?: Record<string, unknown>; idempotencyKey?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${secretKey}` };
  if (options.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
  const response = await fetch(`${env.url}${path}`, { method, headers, ...(options.body !== undefined ? { body: qs.stringify(options.body) } : {}) });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

/** Starts `count` requests at once and waits for all of them. */
async function burst(count: number, request: (i: number) => Promise<Answer>): Promise<Answer[]> {
  return await Promise.all(Array.from({ length: count }, (_, i) => request(i)));
}

async function one<T extends Record<string, unknown>>(text: string, params: unknown[]): Promise<T> {
  const result = await env.database.pool.query<T>(text, params);
  return result.rows[0]!;
}

async function count(text: string, params: unknown[]): Promise<number> {
  return Number((await one<{ n: bigint }>(`SELECT count(*)::int8 AS n FROM (${text}) AS q`, params)).n);
}

async function authorization(merchant: TestMerchant, amount: number, currency = 'usd'): Promise<{ id: string; charge: string }> {
  const pi = await call(merchant.secretKey, 'POST', '/v1/payment_intents', { body: { amount, currency, payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true } });
  expect(pi.body.status).toBe('requires_capture');
  return { id: pi.body.id, charge: pi.body.latest_charge };
}

async function paid(merchant: TestMerchant, amount: number, currency = 'usd'): Promise<{ id: string; charge: string }> {
  const pi = await call(merchant.secretKey, 'POST', '/v1/payment_intents', { body: { amount, currency, payment_method: 'pm_card_visa', confirm: true } });
  expect(pi.body.status).toBe('succeeded');
  return { id: pi.body.id, charge: pi.body.latest_charge };
}

async function transfers(attemptId: string): Promise<{ code: string; phase: string; amount: bigint }[]> {
  const rows = await env.database.pool.query<{ code: string; phase: string; amount: bigint }>('SELECT code, phase, amount FROM ledger_transfers WHERE source_id = $1 ORDER BY code', [attemptId]);
  return rows.rows;
}

async function balance(merchant: TestMerchant, currency: string): Promise<{ available: number; pending: number }> {
  const b = (await call(merchant.secretKey, 'GET', '/v1/balance')).body;
  return {
    available: b.available.find((e: { currency: string }) => e.currency === currency)?.amount ?? 0,
    pending: b.pending.find((e: { currency: string }) => e.currency === currency)?.amount ?? 0,
  };
}

function codes(answers: readonly Answer[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const a of answers) {
    const key = a.status === 200 ? '200' : `${a.status} ${a.body.error?.code}`;
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return tally;
}

const fee = (amount: number) => Math.floor((amount * 290 + 5_000) / 10_000);

describe('racing operations on one payment', () => {
  it('of many simultaneous captures of one authorization, exactly one captures, once, at the channel and in the ledger', async () => {
    const auth = await authorization(shop, 10_000, 'eur');
    const answers = await burst(12, () => call(shop.secretKey, 'POST', `/v1/payment_intents/${auth.id}/capture`, { body: {} }));
    expect(codes(answers)).toEqual({ '200': 1, '400 payment_intent_unexpected_state': 11 });
    expect(answers.find((a) => a.status === 200)!.body).toMatchObject({ status: 'succeeded', amount_received: 10_000 });
    expect(await transfers(auth.charge)).toEqual([
      { code: 'authorization', phase: 'pending', amount: 10_000n },
      { code: 'capture', phase: 'post', amount: 10_000n },
      { code: 'fee', phase: 'single', amount: BigInt(fee(10_000)) },
    ]);
    expect(await one('SELECT amount_received, amount_capturable, status FROM payment_intents WHERE id = $1', [auth.id])).toEqual({ amount_received: 10_000n, amount_capturable: 0n, status: 'succeeded' });
    expect(await count(`SELECT 1 FROM sandbox_card_operations o JOIN payment_attempts a ON a.channel_order_no = o.order_no WHERE a.id = $1 AND o.kind = 'capture'`, [auth.charge])).toBe(1);
    expect(await count(`SELECT 1 FROM events WHERE object_id = $1 AND type = 'payment_intent.succeeded'`, [auth.id])).toBe(1);
    expect(await balance(shop, 'eur')).toEqual({ available: 10_000 - fee(10_000), pending: 0 });
  });

  it('of simultaneous partial captures with different amounts, the one that wins is the one booked', async () => {
    const auth = await authorization(shop, 9_000, 'gbp');
    const amounts = Array.from({ length: 10 }, (_, i) => 1_000 + i * 100);
    const answers = await burst(amounts.length, (i) => call(shop.secretKey, 'POST', `/v1/payment_intents/${auth.id}/capture`, { body: { amount_to_capture: amounts[i] } }));
    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    const captured = winners[0]!.body.amount_received as number;
    expect(amounts).toContain(captured);
    expect((await transfers(auth.charge)).filter((t) => t.code === 'capture')).toEqual([{ code: 'capture', phase: 'post', amount: BigInt(captured) }]);
    expect(await balance(shop, 'gbp')).toEqual({ available: captured - fee(captured), pending: 0 });
  });

  it('of simultaneous captures and cancels of one authorization, exactly one takes effect and the ledger agrees with it', async () => {
    for (let round = 0; round < 4; round++) {
      const auth = await authorization(shop, 5_000, 'jpy');
      const answers = await burst(10, (i) =>
        i % 2 === 0
          ? call(shop.secretKey, 'POST', `/v1/payment_intents/${auth.id}/capture`, { body: {} })
          : call(shop.secretKey, 'POST', `/v1/payment_intents/${auth.id}/cancel`, { body: {} }),
      );
      const ok = answers.filter((a) => a.status === 200);
      expect(ok, `round ${round}: ${JSON.stringify(codes(answers))}`).toHaveLength(1);
      const final = await one<{ status: string }>('SELECT status FROM payment_intents WHERE id = $1', [auth.id]);
      expect(final.status).toBe(ok[0]!.body.status);
      const booked = await transfers(auth.charge);
      if (final.status === 'succeeded') {
        expect(booked.map((t) => t.code)).toEqual(['authorization', 'capture', 'fee']);
      } else {
        expect(final.status).toBe('canceled');
        expect(booked.map((t) => t.code)).toEqual(['authorization', 'authorization_release']);
      }
      const attempt = await one<{ status: string }>('SELECT status FROM payment_attempts WHERE id = $1', [auth.charge]);
      expect(attempt.status).toBe(final.status === 'succeeded' ? 'succeeded' : 'canceled');
      expect(await count(`SELECT 1 FROM events WHERE object_id = $1 AND type IN ('payment_intent.succeeded', 'payment_intent.canceled')`, [auth.id])).toBe(1);
    }
    expect((await balance(shop, 'jpy')).pending).toBe(0);
  });

  it('of simultaneous confirmations and cancels of one PaymentIntent, it is either paid or canceled with nothing sent to the channel', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < 16; round++) {
      // Half the rounds with the card whose answer never comes: the intent then stays processing, the
      // window in which a cancel must not slip through.
      const card = round % 2 === 0 ? '4242424242424242' : sandboxTimeoutCardNumber;
      const pm = await call(shop.secretKey, 'POST', '/v1/payment_methods', { body: { type: 'card', card: { number: card, exp_month: 12, exp_year: 2040 } } });
      const created = await call(shop.secretKey, 'POST', '/v1/payment_intents', { body: { amount: 1_111, currency: 'usd', payment_method: pm.body.id } });
      const id = created.body.id as string;
      const answers = await burst(8, (i) =>
        i % 2 === 0 ? call(shop.secretKey, 'POST', `/v1/payment_intents/${id}/confirm`, { body: {} }) : call(shop.secretKey, 'POST', `/v1/payment_intents/${id}/cancel`, { body: {} }),
      );
      const ok = answers.filter((a) => a.status === 200);
      const final = await one<{ status: string }>('SELECT status FROM payment_intents WHERE id = $1', [id]);
      expect(ok, `round ${round}: ${JSON.stringify(codes(answers))}`).toHaveLength(1);
      expect(final.status).toBe(ok[0]!.body.status);
      outcomes.push(final.status);
      const charged = await count(`SELECT 1 FROM ledger_transfers t JOIN payment_attempts a ON a.id = t.source_id WHERE a.payment_intent_id = $1 AND t.code = 'charge'`, [id]);
      const attempts = await count('SELECT 1 FROM payment_attempts WHERE payment_intent_id = $1', [id]);
      if (final.status === 'canceled') expect({ round, charged, attempts }).toEqual({ round, charged: 0, attempts: 0 });
      else expect({ round, status: final.status, charged, attempts }).toEqual({ round, status: card === '4242424242424242' ? 'succeeded' : 'processing', charged: card === '4242424242424242' ? 1 : 0, attempts: 1 });
    }
    expect(outcomes).toHaveLength(16);
  });

  it('a cancel decided before a confirmation committed does not cancel the payment that confirmation sent to the channel', async () => {
    // The interleaving above made deterministic: the cancel's write is held until the confirmation has
    // written its attempt and asked the channel (whose answer never comes: the intent stays processing).
    const pm = await call(shop.secretKey, 'POST', '/v1/payment_methods', { body: { type: 'card', card: { number: sandboxTimeoutCardNumber, exp_month: 12, exp_year: 2040 } } });
    const id = (await call(shop.secretKey, 'POST', '/v1/payment_intents', { body: { amount: 2_345, currency: 'usd', payment_method: pm.body.id } })).body.id as string;
    const batcher = env.fenpay.services.batcher;
    const submit = batcher.submit;
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let heldCancel = () => {};
    const cancelHeld = new Promise<void>((resolve) => (heldCancel = resolve));
    batcher.submit = async (writeSet) => {
      if ((writeSet.inserts ?? []).some((i) => i.table === 'events' && i.row.type === 'payment_intent.canceled' && i.row.object_id === id)) {
        heldCancel();
        await gate;
      }
      return await submit.call(batcher, writeSet);
    };
    try {
      const cancel = call(shop.secretKey, 'POST', `/v1/payment_intents/${id}/cancel`, { body: {} });
      await cancelHeld;
      const confirmed = await call(shop.secretKey, 'POST', `/v1/payment_intents/${id}/confirm`, { body: {} });
      expect(confirmed.body.status).toBe('processing');
      release();
      const canceled = await cancel;
      expect({ status: canceled.status, code: canceled.body.error?.code }).toEqual({ status: 400, code: 'payment_intent_unexpected_state' });
    } finally {
      release();
      batcher.submit = submit;
    }
    expect(await one('SELECT status, cancellation_reason FROM payment_intents WHERE id = $1', [id])).toEqual({ status: 'processing', cancellation_reason: null });
    expect(await one('SELECT status FROM payment_attempts WHERE payment_intent_id = $1', [id])).toEqual({ status: 'processing' });
    expect(await count(`SELECT 1 FROM events WHERE object_id = $1 AND type = 'payment_intent.canceled'`, [id])).toBe(0);
  });

  it('of simultaneous cancels of one authorization, one cancels and the hold is voided exactly once', async () => {
    const auth = await authorization(shop, 7_000, 'chf');
    expect(await balance(shop, 'chf')).toEqual({ available: 0, pending: 7_000 });
    const answers = await burst(10, () => call(shop.secretKey, 'POST', `/v1/payment_intents/${auth.id}/cancel`, { body: {} }));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status !== 200).every((a) => a.body.error?.code === 'payment_intent_unexpected_state')).toBe(true);
    expect(await transfers(auth.charge)).toEqual([
      { code: 'authorization', phase: 'pending', amount: 7_000n },
      { code: 'authorization_release', phase: 'void', amount: 7_000n },
    ]);
    expect(await one('SELECT status FROM payment_attempts WHERE id = $1', [auth.charge])).toEqual({ status: 'canceled' });
    expect(await balance(shop, 'chf')).toEqual({ available: 0, pending: 0 });
  });

  it('of simultaneous full refunds, exactly one succeeds and the others are refused', async () => {
    await paid(shop, 100_000, 'cad'); // funds the balance, so refunds are not refused for it
    const payment = await paid(shop, 10_000, 'cad');
    const answers = await burst(12, () => call(shop.secretKey, 'POST', '/v1/refunds', { body: { payment_intent: payment.id } }));
    expect(codes(answers)).toEqual({ '200': 1, '400 charge_already_refunded': 11 });
    expect(await count(`SELECT 1 FROM refunds WHERE payment_intent_id = $1`, [payment.id])).toBe(1);
    const refunded = await one<{ total: bigint }>(`SELECT coalesce(sum(amount), 0)::int8 AS total FROM ledger_transfers WHERE code = 'refund' AND phase = 'post' AND source_id IN (SELECT id FROM refunds WHERE payment_intent_id = $1)`, [payment.id]);
    expect(refunded.total).toBe(10_000n);
    expect(await one('SELECT amount_refunded, amount_received FROM payment_intents WHERE id = $1', [payment.id])).toEqual({ amount_refunded: 10_000n, amount_received: 10_000n });
    expect(await balance(shop, 'cad')).toEqual({ available: 110_000 - fee(100_000) - fee(10_000) - 10_000, pending: 0 });
  });

  it('of simultaneous partial refunds, only as many succeed as the captured amount allows', async () => {
    await paid(shop, 100_000, 'aud');
    const payment = await paid(shop, 10_000, 'aud');
    const answers = await burst(12, () => call(shop.secretKey, 'POST', '/v1/refunds', { body: { payment_intent: payment.id, amount: 3_000 } }));
    expect(codes(answers)).toEqual({ '200': 3, '400 refund_exceeds_captured_amount': 9 });
    const rows = await env.database.pool.query<{ amount: bigint; status: string }>('SELECT amount, status FROM refunds WHERE payment_intent_id = $1', [payment.id]);
    expect(rows.rows.map((r) => [r.amount, r.status])).toEqual([[3_000n, 'succeeded'], [3_000n, 'succeeded'], [3_000n, 'succeeded']]);
    expect(await one('SELECT amount_refunded FROM payment_intents WHERE id = $1', [payment.id])).toEqual({ amount_refunded: 9_000n });
    expect(await one('SELECT amount_refunded, amount_captured FROM payment_attempts WHERE id = $1', [payment.charge])).toEqual({ amount_refunded: 9_000n, amount_captured: 10_000n });
  });

  it('simultaneous refunds of different payments never take the merchant balance below zero', async () => {
    const payments: { id: string; charge: string }[] = [];
    for (let i = 0; i < 10; i++) payments.push(await paid(shop, 1_000, 'sek'));
    expect(await balance(shop, 'sek')).toEqual({ available: 10 * (1_000 - fee(1_000)), pending: 0 });
    const answers = await burst(10, (i) => call(shop.secretKey, 'POST', '/v1/refunds', { body: { payment_intent: payments[i]!.id } }));
    // 9 × 1,000 fits in 9,710; the tenth does not.
    expect(codes(answers)).toEqual({ '200': 9, '400 balance_insufficient': 1 });
    expect(await balance(shop, 'sek')).toEqual({ available: 10 * (1_000 - fee(1_000)) - 9 * 1_000, pending: 0 });
    const refused = payments[answers.findIndex((a) => a.status !== 200)]!;
    expect(await one('SELECT amount_refunded FROM payment_intents WHERE id = $1', [refused.id])).toEqual({ amount_refunded: 0n });
    expect(await count('SELECT 1 FROM refunds WHERE payment_intent_id = $1', [refused.id])).toBe(0);
  });

  it('of a payer completing 3-D Secure while the merchant cancels, exactly one wins and the acquirer agrees', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < 6; round++) {
      const pi = await call(shop.secretKey, 'POST', '/v1/payment_intents', {
        body: { amount: 1_900, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true, return_url: 'https://shop.example/r' },
      });
      expect(pi.body.status).toBe('requires_action');
      const challenge = (pi.body.next_action.redirect_to_url.url as string).replace(env.fenpay.config.publicUrl, env.url);
      await Promise.all([
        fetch(challenge, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'result=approve', redirect: 'manual' }),
        ...Array.from({ length: 3 }, () => call(shop.secretKey, 'POST', `/v1/payment_intents/${pi.body.id}/cancel`, { body: {} })),
      ]);
      const final = await one<{ status: string }>('SELECT status FROM payment_intents WHERE id = $1', [pi.body.id]);
      const order = await one<{ status: string }>('SELECT o.status FROM sandbox_card_orders o JOIN payment_attempts a ON a.channel_order_no = o.order_no WHERE a.id = $1', [pi.body.latest_charge]);
      const booked = (await transfers(pi.body.latest_charge)).map((t) => t.code);
      outcomes.push(final.status);
      if (final.status === 'succeeded') expect({ round, order: order.status, booked }).toEqual({ round, order: 'captured', booked: ['charge', 'fee'] });
      else expect({ round, status: final.status, order: order.status, booked }).toEqual({ round, status: 'canceled', order: 'voided', booked: [] });
      expect(await count(`SELECT 1 FROM events WHERE object_id = $1 AND type IN ('payment_intent.succeeded', 'payment_intent.canceled')`, [pi.body.id])).toBe(1);
    }
    expect(outcomes).toHaveLength(6);
  });

  it('of simultaneous captures sent with one Idempotency-Key, one captures and every answer replays it or is a 409', async () => {
    const auth = await authorization(shop, 8_000, 'nok');
    const key = `capture-${randomUUID()}`;
    const answers = await burst(20, () => call(shop.secretKey, 'POST', `/v1/payment_intents/${auth.id}/capture`, { body: { amount_to_capture: 6_000 }, idempotencyKey: key }));
    for (const a of answers) {
      if (a.status === 200) expect(a.body).toMatchObject({ id: auth.id, status: 'succeeded', amount_received: 6_000 });
      else expect({ status: a.status, type: a.body.error?.type }).toEqual({ status: 409, type: 'idempotency_error' });
    }
    expect(answers.some((a) => a.status === 200)).toBe(true);
    expect((await transfers(auth.charge)).map((t) => t.code)).toEqual(['authorization', 'capture', 'fee']);
    const replay = await call(shop.secretKey, 'POST', `/v1/payment_intents/${auth.id}/capture`, { body: { amount_to_capture: 6_000 }, idempotencyKey: key });
    expect({ status: replay.status, received: replay.body.amount_received, replayed: replay.headers.get('idempotent-replayed') }).toEqual({ status: 200, received: 6_000, replayed: 'true' });
  });

  it('of a confirmation racing amount updates, the amount charged is the amount the intent had when its attempt was written', async () => {
    for (let round = 0; round < 4; round++) {
      const id = (await call(shop.secretKey, 'POST', '/v1/payment_intents', { body: { amount: 5_000, currency: 'usd', payment_method: 'pm_card_visa' } })).body.id as string;
      const answers = await burst(6, (i) =>
        i === 0 ? call(shop.secretKey, 'POST', `/v1/payment_intents/${id}/confirm`, { body: {} }) : call(shop.secretKey, 'POST', `/v1/payment_intents/${id}`, { body: { amount: 5_000 + i } }),
      );
      expect(answers[0]!.status).toBe(200);
      const intent = await one<{ amount: bigint; amount_received: bigint; status: string }>('SELECT amount, amount_received, status FROM payment_intents WHERE id = $1', [id]);
      const attempt = await one<{ amount: bigint; id: string }>('SELECT amount, id FROM payment_attempts WHERE payment_intent_id = $1', [id]);
      expect({ status: intent.status, received: intent.amount_received, attempt: attempt.amount }).toEqual({ status: 'succeeded', received: intent.amount, attempt: intent.amount });
      expect((await transfers(attempt.id)).find((t) => t.code === 'charge')?.amount).toBe(intent.amount);
      for (const a of answers.slice(1)) if (a.status !== 200) expect(a.body.error?.code).toBe('payment_intent_unexpected_state');
    }
  });

  it('of simultaneous confirmations of one PaymentIntent, exactly one attempt reaches the channel', async () => {
    for (const confirmWith of [{}, { payment_method: 'pm_card_visa' }]) {
      const created = await call(shop.secretKey, 'POST', '/v1/payment_intents', { body: { amount: 4_242, currency: 'usd', payment_method: 'pm_card_mastercard' } });
      const id = created.body.id as string;
      const answers = await burst(12, () => call(shop.secretKey, 'POST', `/v1/payment_intents/${id}/confirm`, { body: confirmWith }));
      expect(codes(answers)).toEqual({ '200': 1, '400 payment_intent_unexpected_state': 11 });
      expect(answers.find((a) => a.status === 200)!.body.status).toBe('succeeded');
      expect(await count('SELECT 1 FROM payment_attempts WHERE payment_intent_id = $1', [id])).toBe(1);
      expect(await count(`SELECT 1 FROM ledger_transfers t JOIN payment_attempts a ON a.id = t.source_id WHERE a.payment_intent_id = $1 AND t.code = 'charge'`, [id])).toBe(1);
      expect(await count(`SELECT 1 FROM events WHERE object_id = $1 AND type = 'payment_intent.succeeded'`, [id])).toBe(1);
    }
  });
});

describe('idempotency keys under a burst', () => {
  it('50 identical creates with one key make one PaymentIntent; every answer is that one or a 409', async () => {
    const key = `burst-${randomUUID()}`;
    const description = `order ${key}`;
    const body = { amount: 2_000, currency: 'usd', description, metadata: { order: key } };
    const answers = await burst(50, () => call(shop.secretKey, 'POST', '/v1/payment_intents', { body, idempotencyKey: key }));
    const ids = new Set(answers.filter((a) => a.status === 200).map((a) => a.body.id));
    expect(ids.size).toBe(1);
    for (const a of answers) {
      if (a.status !== 200) expect({ status: a.status, type: a.body.error?.type }).toEqual({ status: 409, type: 'idempotency_error' });
    }
    const [id] = ids;
    expect(await count('SELECT 1 FROM payment_intents WHERE merchant_id = $1 AND description = $2', [shop.merchant.id, description])).toBe(1);
    expect(await count(`SELECT 1 FROM events WHERE object_id = $1 AND type = 'payment_intent.created'`, [id])).toBe(1);
    const retry = await call(shop.secretKey, 'POST', '/v1/payment_intents', { body, idempotencyKey: key });
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(id);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
  });

  it('50 identical create-and-confirm requests with one key charge the card once', async () => {
    const key = `burst-${randomUUID()}`;
    const body = { amount: 3_333, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, description: `paid ${key}` };
    const answers = await burst(50, () => call(shop.secretKey, 'POST', '/v1/payment_intents', { body, idempotencyKey: key }));
    const ok = answers.filter((a) => a.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((a) => a.body.id)).size).toBe(1);
    for (const a of answers) if (a.status !== 200) expect({ status: a.status, type: a.body.error?.type }).toEqual({ status: 409, type: 'idempotency_error' });
    const id = ok[0]!.body.id as string;
    expect(ok.every((a) => a.body.status === 'succeeded')).toBe(true);
    expect(await count('SELECT 1 FROM payment_intents WHERE merchant_id = $1 AND description = $2', [shop.merchant.id, `paid ${key}`])).toBe(1);
    expect(await count('SELECT 1 FROM payment_attempts WHERE payment_intent_id = $1', [id])).toBe(1);
    expect(await count(`SELECT 1 FROM ledger_transfers t JOIN payment_attempts a ON a.id = t.source_id WHERE a.payment_intent_id = $1 AND t.code = 'charge'`, [id])).toBe(1);
    const retry = await call(shop.secretKey, 'POST', '/v1/payment_intents', { body, idempotencyKey: key });
    expect({ status: retry.status, id: retry.body.id, intent: retry.body.status }).toEqual({ status: 200, id, intent: 'succeeded' });
  });

  it('a key reused at the same moment with different parameters never creates a second object', async () => {
    const key = `burst-${randomUUID()}`;
    const answers = await burst(20, (i) => call(shop.secretKey, 'POST', '/v1/payment_intents', { body: { amount: 1_000 + (i % 2), currency: 'usd', description: `reuse ${key}` }, idempotencyKey: key }));
    const ok = answers.filter((a) => a.status === 200);
    expect(new Set(ok.map((a) => a.body.id)).size).toBe(1);
    const winnerAmount = ok[0]!.body.amount as number;
    for (const a of ok) expect(a.body.amount).toBe(winnerAmount);
    for (const a of answers.filter((x) => x.status !== 200)) expect(['idempotency_key_reused', 'idempotency_key_in_use']).toContain(a.body.error?.code);
    expect(await count('SELECT 1 FROM payment_intents WHERE merchant_id = $1 AND description = $2', [shop.merchant.id, `reuse ${key}`])).toBe(1);
  });

  it('50 creates with distinct keys make 50 PaymentIntents, each replayed by its own key', async () => {
    const tag = randomUUID();
    const keys = Array.from({ length: 50 }, (_, i) => `${tag}-${i}`);
    const answers = await burst(50, (i) => call(shop.secretKey, 'POST', '/v1/payment_intents', { body: { amount: 100 + i, currency: 'usd', description: `distinct ${tag}` }, idempotencyKey: keys[i]! }));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(50);
    expect(await count('SELECT 1 FROM payment_intents WHERE merchant_id = $1 AND description = $2', [shop.merchant.id, `distinct ${tag}`])).toBe(50);
    const replays = await burst(50, (i) => call(shop.secretKey, 'POST', '/v1/payment_intents', { body: { amount: 100 + i, currency: 'usd', description: `distinct ${tag}` }, idempotencyKey: keys[i]! }));
    expect(replays.map((a) => a.body.id)).toEqual(answers.map((a) => a.body.id));
  });

  it('the same key used by two merchants at once is two keys', async () => {
    const key = `shared-${randomUUID()}`;
    const answers = await burst(20, (i) => call((i % 2 === 0 ? shop : rival).secretKey, 'POST', '/v1/payment_intents', { body: { amount: 555, currency: 'usd', description: key }, idempotencyKey: key }));
    const byMerchant = new Map<string, Set<string>>();
    for (const [i, a] of answers.entries()) {
      if (a.status !== 200) continue;
      const who = i % 2 === 0 ? 'shop' : 'rival';
      byMerchant.set(who, (byMerchant.get(who) ?? new Set()).add(a.body.id));
    }
    expect(byMerchant.get('shop')?.size).toBe(1);
    expect(byMerchant.get('rival')?.size).toBe(1);
    expect(await count('SELECT 1 FROM payment_intents WHERE description = $1', [key])).toBe(2);
    expect(await count('SELECT DISTINCT merchant_id FROM payment_intents WHERE description = $1', [key])).toBe(2);
  });
});

describe('isolation of merchants', () => {
  /**
   * Tables whose rows belong to no merchant, with the reason.
   */
  const notTenantOwned: Record<string, string> = {
    merchants: 'the tenants themselves',
    kysely_migration: 'migration bookkeeping',
    kysely_migration_lock: 'migration bookkeeping',
    sandbox_card_orders: "the sandbox acquirer's own memory (an external system)",
    sandbox_card_operations: "the sandbox acquirer's own memory (an external system)",
    channel_notifications: "a provider's message as received, stored before it is known whose it is",
    event_cursors: 'positions of the outbox readers, one per reader for all merchants',
    channel_health: "a channel target's health; targets that are accounts carry their merchant in channel_accounts",
  };
  /** Tables where merchant_id may be NULL, and which rows may have it so. */
  const platformRows: Record<string, string> = {
    ledger_accounts: `code <> 'merchant_balance'`,
    ledger_account_buckets: `account_id IN (SELECT id FROM ledger_accounts WHERE code <> 'merchant_balance')`,
  };

  beforeAll(async () => {
    // Both merchants busy at once: every kind of object, for each, written concurrently.
    await Promise.all(
      [shop, rival].flatMap((merchant) => [
        (async () => {
          await paid(merchant, 60_000, 'usd');
          const payment = await paid(merchant, 5_000, 'usd');
          await call(merchant.secretKey, 'POST', '/v1/refunds', { body: { payment_intent: payment.id, amount: 1_000 } });
        })(),
        (async () => {
          const auth = await authorization(merchant, 2_000, 'usd');
          await call(merchant.secretKey, 'POST', `/v1/payment_intents/${auth.id}/capture`, { body: { amount_to_capture: 1_500 } });
        })(),
        (async () => {
          const customer = await call(merchant.secretKey, 'POST', '/v1/customers', { body: { email: 'payer@example.test' } });
          const pm = await call(merchant.secretKey, 'POST', '/v1/payment_methods', { body: { type: 'card', card: { number: '4242424242424242', exp_month: 12, exp_year: 2040 } } });
          await call(merchant.secretKey, 'POST', `/v1/payment_methods/${pm.body.id}/attach`, { body: { customer: customer.body.id } });
          await call(merchant.secretKey, 'POST', '/v1/payment_intents', { body: { amount: 900, currency: 'usd', customer: customer.body.id, payment_method: pm.body.id, confirm: true }, idempotencyKey: randomUUID() });
        })(),
      ]),
    );
  });

  it('stores merchant_id on every row of every tenant-owned table', async () => {
    const columns = await env.database.pool.query<{ table_name: string; is_nullable: string | null }>(
      `SELECT t.table_name, c.is_nullable FROM information_schema.tables t
         LEFT JOIN information_schema.columns c ON c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = 'merchant_id'
        WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE' ORDER BY 1`,
    );
    const without = columns.rows.filter((r) => r.is_nullable === null).map((r) => r.table_name);
    expect(without.sort(), 'a table without merchant_id must belong to no merchant: list it in notTenantOwned with the reason').toEqual(Object.keys(notTenantOwned).sort());
    const tenantTables = columns.rows.filter((r) => r.is_nullable !== null).map((r) => r.table_name);
    // The workload above wrote rows to each of these, so the check below is not vacuous for them.
    for (const table of ['api_keys', 'customers', 'vault_cards', 'payment_methods', 'payment_intents', 'payment_attempts', 'refunds', 'events', 'idempotency_keys', 'ledger_accounts', 'ledger_transfers']) {
      expect(tenantTables).toContain(table);
      expect(await count(`SELECT 1 FROM "${table}"`, []), table).toBeGreaterThan(0);
    }
    for (const table of tenantTables) {
      const exempt = platformRows[table];
      const nulls = await count(`SELECT 1 FROM "${table}" WHERE merchant_id IS NULL${exempt ? ` AND NOT (${exempt})` : ''}`, []);
      expect(nulls, table).toBe(0);
    }
  });

  it('never links a row to another merchant’s row', async () => {
    const crossLinks: Record<string, string> = {
      'attempt → intent': `SELECT 1 FROM payment_attempts a JOIN payment_intents p ON p.id = a.payment_intent_id WHERE a.merchant_id <> p.merchant_id OR a.livemode <> p.livemode`,
      'attempt → payment method': `SELECT 1 FROM payment_attempts a JOIN payment_methods m ON m.id = a.payment_method_id WHERE a.merchant_id <> m.merchant_id`,
      'refund → intent and attempt': `SELECT 1 FROM refunds r JOIN payment_intents p ON p.id = r.payment_intent_id JOIN payment_attempts a ON a.id = r.attempt_id WHERE r.merchant_id <> p.merchant_id OR r.merchant_id <> a.merchant_id`,
      'intent → payment method': `SELECT 1 FROM payment_intents p JOIN payment_methods m ON m.id = p.payment_method_id WHERE p.merchant_id <> m.merchant_id`,
      'intent → customer': `SELECT 1 FROM payment_intents p JOIN customers c ON c.id = p.customer_id WHERE p.merchant_id <> c.merchant_id`,
      'payment method → customer': `SELECT 1 FROM payment_methods m JOIN customers c ON c.id = m.customer_id WHERE m.merchant_id <> c.merchant_id`,
      'payment method → vault card': `SELECT 1 FROM payment_methods m JOIN vault_cards v ON v.token = m.vault_token WHERE m.merchant_id <> v.merchant_id`,
      'transfer → merchant account': `SELECT 1 FROM ledger_transfers t JOIN ledger_accounts a ON a.id IN (t.debit_account_id, t.credit_account_id) WHERE a.merchant_id IS NOT NULL AND a.merchant_id IS DISTINCT FROM t.merchant_id`,
      'transfer → its source': `SELECT 1 FROM ledger_transfers t LEFT JOIN payment_attempts a ON a.id = t.source_id LEFT JOIN refunds r ON r.id = t.source_id
                                 WHERE coalesce(a.merchant_id, r.merchant_id) IS DISTINCT FROM t.merchant_id`,
      'post or void → pending transfer': `SELECT 1 FROM ledger_transfers t JOIN ledger_transfers p ON p.id = t.pending_id WHERE t.merchant_id IS DISTINCT FROM p.merchant_id`,
      'event → its object': `SELECT 1 FROM events e WHERE NOT EXISTS (
                               SELECT 1 FROM payment_intents x WHERE x.id = e.object_id AND x.merchant_id = e.merchant_id UNION ALL
                               SELECT 1 FROM payment_attempts x WHERE x.id = e.object_id AND x.merchant_id = e.merchant_id UNION ALL
                               SELECT 1 FROM refunds x WHERE x.id = e.object_id AND x.merchant_id = e.merchant_id UNION ALL
                               SELECT 1 FROM customers x WHERE x.id = e.object_id AND x.merchant_id = e.merchant_id UNION ALL
                               SELECT 1 FROM payment_methods x WHERE x.id = e.object_id AND x.merchant_id = e.merchant_id)`,
      'idempotency key → its resource': `SELECT 1 FROM idempotency_keys k WHERE k.resource_id IS NOT NULL AND NOT EXISTS (
                               SELECT 1 FROM payment_intents x WHERE x.id = k.resource_id AND x.merchant_id = k.merchant_id UNION ALL
                               SELECT 1 FROM refunds x WHERE x.id = k.resource_id AND x.merchant_id = k.merchant_id UNION ALL
                               SELECT 1 FROM customers x WHERE x.id = k.resource_id AND x.merchant_id = k.merchant_id UNION ALL
                               SELECT 1 FROM payment_methods x WHERE x.id = k.resource_id AND x.merchant_id = k.merchant_id)`,
    };
    for (const [link, query] of Object.entries(crossLinks)) expect(await count(query, []), link).toBe(0);
    // The only accounts shared by merchants are the platform's.
    expect(await count(`SELECT 1 FROM ledger_accounts WHERE merchant_id IS NULL AND code = 'merchant_balance'`, [])).toBe(0);
  });

  it('answers 404 to every path naming another merchant’s object, and lists none of them', async () => {
    for (const [owner, other] of [[shop, rival], [rival, shop]] as const) {
      const mine = owner.merchant.id;
      const ids = async (query: string) => (await env.database.pool.query<{ id: string }>(query, [mine])).rows.map((r) => r.id);
      const intents = await ids('SELECT id FROM payment_intents WHERE merchant_id = $1');
      const attempts = await ids('SELECT id FROM payment_attempts WHERE merchant_id = $1');
      const refunds = await ids('SELECT id FROM refunds WHERE merchant_id = $1');
      const customers = await ids('SELECT id FROM customers WHERE merchant_id = $1');
      const methods = await ids('SELECT id FROM payment_methods WHERE merchant_id = $1');
      const events = await ids('SELECT id FROM events WHERE merchant_id = $1');
      const journals = await ids('SELECT DISTINCT journal_id AS id FROM ledger_transfers WHERE merchant_id = $1');
      for (const list of [intents, attempts, refunds, customers, methods, events, journals]) expect(list.length).toBeGreaterThan(0);

      const probes: (() => Promise<Answer>)[] = [
        ...intents.flatMap((id) => [
          () => call(other.secretKey, 'GET', `/v1/payment_intents/${id}`),
          () => call(other.secretKey, 'POST', `/v1/payment_intents/${id}`, { body: { description: 'taken over' } }),
          () => call(other.secretKey, 'POST', `/v1/payment_intents/${id}/confirm`, { body: { payment_method: 'pm_card_visa' } }),
          () => call(other.secretKey, 'POST', `/v1/payment_intents/${id}/capture`, { body: {} }),
          () => call(other.secretKey, 'POST', `/v1/payment_intents/${id}/cancel`, { body: {} }),
          () => call(other.secretKey, 'POST', '/v1/refunds', { body: { payment_intent: id, amount: 1 } }),
        ]),
        ...attempts.map((id) => () => call(other.secretKey, 'POST', '/v1/refunds', { body: { charge: id, amount: 1 } })),
        ...refunds.map((id) => () => call(other.secretKey, 'GET', `/v1/refunds/${id}`)),
        ...customers.flatMap((id) => [
          () => call(other.secretKey, 'GET', `/v1/customers/${id}`),
          () => call(other.secretKey, 'POST', `/v1/customers/${id}`, { body: { name: 'taken over' } }),
          () => call(other.secretKey, 'DELETE', `/v1/customers/${id}`),
          () => call(other.secretKey, 'GET', `/v1/customers/${id}/payment_methods`),
        ]),
        ...methods.flatMap((id) => [
          () => call(other.secretKey, 'GET', `/v1/payment_methods/${id}`),
          () => call(other.secretKey, 'POST', `/v1/payment_methods/${id}/detach`, { body: {} }),
          () => call(other.secretKey, 'POST', '/v1/payment_intents', { body: { amount: 100, currency: 'usd', payment_method: id } }),
        ]),
        ...events.map((id) => () => call(other.secretKey, 'GET', `/v1/events/${id}`)),
        ...journals.map((id) => () => call(other.secretKey, 'GET', `/v1/balance_transactions/${id}`)),
      ];
      const answers = await Promise.all(probes.map((probe) => probe()));
      const leaks = answers.filter((a) => a.status !== 404 || a.body.error?.code !== 'resource_missing');
      expect(leaks.map((a) => ({ status: a.status, body: a.body }))).toEqual([]);

      const listed = await Promise.all(
        ['/v1/payment_intents', '/v1/refunds', '/v1/customers', '/v1/events', '/v1/balance_transactions'].map((path) => call(other.secretKey, 'GET', `${path}?limit=100`)),
      );
      const visible = new Set(listed.flatMap((l) => (l.body.data as { id: string }[]).map((o) => o.id)));
      const foreign = new Set([...intents, ...refunds, ...customers, ...events, ...journals]);
      expect([...visible].filter((id) => foreign.has(id))).toEqual([]);
      const filtered = await Promise.all([
        call(other.secretKey, 'GET', `/v1/refunds?payment_intent=${intents[0]}`),
        call(other.secretKey, 'GET', `/v1/refunds?charge=${attempts[0]}`),
        call(other.secretKey, 'GET', `/v1/balance_transactions?source=${attempts[0]}`),
        call(other.secretKey, 'GET', `/v1/payment_intents?customer=${customers[0]}`),
      ]);
      for (const f of filtered) expect(f.body.data ?? [], JSON.stringify(f.body)).toEqual([]);
    }
    // Nothing the probes tried was written.
    expect(await count(`SELECT 1 FROM payment_intents WHERE description = 'taken over'`, [])).toBe(0);
    expect(await count(`SELECT 1 FROM customers WHERE name = 'taken over' OR deleted`, [])).toBe(0);
  });
});
