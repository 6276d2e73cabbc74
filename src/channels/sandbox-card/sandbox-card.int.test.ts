/**
 * The sandbox card channel driven against the sandbox acquirer on a real database: every test card,
 * the "answer never comes" card, 3-D Secure through the challenge page, and the follow-up operations.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import qs from 'qs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { randomToken, Secret } from '../../kernel/index.ts';
import type { AuthorizeRequest, ChannelAdapter, ChannelOutcome, OrderRef } from '../channel.ts';
import { createSandboxCardAcquirer, sandboxCardPages, sandboxTimeoutCardNumber, type SandboxCardAcquirer } from '../../sandbox/cards/index.ts';
import { createSandboxCardChannel } from './index.ts';

const publicUrl = 'https://pay.fenpay.test';
const returnUrl = 'https://shop.example.test/checkout/return?order=42';
const settleDelaySeconds = 30;

let database: TestDatabase;
let app: FastifyInstance;
let acquirer: SandboxCardAcquirer;
let channel: ChannelAdapter;
let clockMs = Date.UTC(2031, 5, 15, 12, 0, 0);
const completed: string[] = [];
/** What Fenpay would see if it synced the attempt inside the callback. */
const seenInCallback: ChannelOutcome[] = [];
const futureYear = new Date(clockMs).getUTCFullYear() + 3;

beforeAll(async () => {
  database = await createTestDatabase({ poolSize: 5 });
  acquirer = createSandboxCardAcquirer({
    db: database.db,
    publicUrl: `${publicUrl}/`,
    settleDelaySeconds,
    now: () => new Date(clockMs),
    onChallengeCompleted: async (orderNo) => {
      completed.push(orderNo);
      seenInCallback.push(await channel.query({ orderNo, reference: undefined, amount: 0n, currency: '' }));
    },
  });
  channel = createSandboxCardChannel({ acquirer });
  app = Fastify();
  // The host app's form parser, reduced to what the plugin assumes: a plain object in request.body.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, qs.parse(body as string));
  });
  await app.register(sandboxCardPages, { acquirer });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await database?.drop();
});

beforeEach(() => {
  completed.length = 0;
  seenInCallback.length = 0;
});

function request(number: string, overrides: Partial<AuthorizeRequest> & { expMonth?: number; expYear?: number } = {}): AuthorizeRequest {
  const { expMonth = 12, expYear = futureYear, ...rest } = overrides;
  return {
    orderNo: `ord_${randomToken(20)}`,
    amount: 2_000n,
    currency: 'usd',
    capture: 'automatic',
    paymentMethod: { type: 'card', number: new Secret(number), expMonth, expYear, cvc: new Secret('123'), brand: 'visa' },
    description: undefined,
    returnUrl,
    livemode: false,
    ...rest,
  };
}

function refOf(req: AuthorizeRequest, outcome: ChannelOutcome): OrderRef {
  return { orderNo: req.orderNo, reference: outcome.reference, amount: req.amount, currency: req.currency };
}

function challengePath(outcome: ChannelOutcome): string {
  expect(outcome.status).toBe('requires_action');
  if (outcome.status !== 'requires_action' || outcome.action.type !== 'redirect_to_url') throw new Error('no redirect');
  return new URL(outcome.action.url).pathname;
}

async function answerChallenge(outcome: ChannelOutcome, result: 'approve' | 'fail') {
  return await app.inject({
    method: 'POST',
    url: challengePath(outcome),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `result=${result}`,
  });
}

describe('the channel', () => {
  it('names itself and claims every capability for cards', () => {
    expect(channel.id).toBe('sandbox_card');
    expect(channel.displayName).toMatch(/sandbox/i);
    expect(channel.paymentMethodTypes).toEqual(['card']);
    expect(Object.values(channel.capabilities).every((flag) => flag === true)).toBe(true);
    expect(Object.keys(channel.capabilities).sort()).toEqual(['cancel', 'manualCapture', 'partialCapture', 'partialRefund', 'query', 'refund']);
  });

  it('refuses to run a live-mode payment (a routing bug, not an outcome)', async () => {
    await expect(channel.authorize(request('4242424242424242', { livemode: true }))).rejects.toThrow(/test mode only/);
  });
});

describe('cards that are approved at once', () => {
  it.each([
    ['4242424242424242', 'visa'],
    ['5555555555554444', 'mastercard'],
    ['378282246310005', 'amex'],
    ['3566002020360505', 'jcb'],
    ['6200000000000005', 'unionpay'],
    ['6011111111111117', 'any other Luhn-valid number (discover)'],
    ['4242 4242 4242 4242', 'visa typed with spaces'],
  ])('approves %s (%s) and echoes amount and currency', async (number) => {
    const req = request(number, { amount: 12_345n, currency: 'eur' });
    const outcome = await channel.authorize(req);
    expect(outcome).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^sca_/), amount: 12_345n, currency: 'eur' });
  });

  it('holds the funds instead with manual capture', async () => {
    const outcome = await channel.authorize(request('4242424242424242', { capture: 'manual' }));
    expect(outcome).toMatchObject({ status: 'requires_capture', amount: 2_000n, currency: 'usd' });
  });

  it('gives the same reference when the same order is sent again', async () => {
    const req = request('4242424242424242');
    const first = await channel.authorize(req);
    const second = await channel.authorize(req);
    expect(second.reference).toBe(first.reference);
  });

  it('answers a query about such an order from the reference, although it wrote nothing', async () => {
    const req = request('4242424242424242');
    const outcome = await channel.authorize(req);
    expect(await channel.query(refOf(req, outcome))).toEqual(outcome);
  });
});

describe('cards that are declined', () => {
  it.each([
    ['4000000000000002', 'card_declined', 'generic_decline'],
    ['4000000000009995', 'card_declined', 'insufficient_funds'],
    ['4000000000009987', 'card_declined', 'lost_card'],
    ['4000000000009979', 'card_declined', 'stolen_card'],
    ['4000000000000069', 'expired_card', 'expired_card'],
    ['4000000000000127', 'incorrect_cvc', 'incorrect_cvc'],
    ['4000000000000119', 'processing_error', 'processing_error'],
    ['4242424242424241', 'incorrect_number', 'incorrect_number'],
    ['4242', 'incorrect_number', 'incorrect_number'],
  ])('declines %s with %s / %s', async (number, code, declineCode) => {
    const outcome = await channel.authorize(request(number));
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.failure.code).toBe(code);
    expect(outcome.failure.declineCode).toBe(declineCode);
    expect(outcome.failure.message.length).toBeGreaterThan(0);
  });

  it('declines any card whose expiry month has passed with expired_card', async () => {
    const now = new Date(clockMs);
    const lastMonth = now.getUTCMonth() === 0 ? { expMonth: 12, expYear: now.getUTCFullYear() - 1 } : { expMonth: now.getUTCMonth(), expYear: now.getUTCFullYear() };
    const outcome = await channel.authorize(request('4242424242424242', lastMonth));
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'expired_card' } });
    // The card is good through the last day of its expiry month.
    const thisMonth = await channel.authorize(request('4242424242424242', { expMonth: now.getUTCMonth() + 1, expYear: now.getUTCFullYear() }));
    expect(thisMonth.status).toBe('succeeded');
  });

  it('declines an impossible expiry month', async () => {
    const outcome = await channel.authorize(request('4242424242424242', { expMonth: 13 }));
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'card_declined', declineCode: 'invalid_expiry_month' } });
  });
});

describe(`the card whose answer never comes (${sandboxTimeoutCardNumber})`, () => {
  it('is processing, stays processing before the settle delay, then succeeds', async () => {
    const req = request(sandboxTimeoutCardNumber);
    const outcome = await channel.authorize(req);
    expect(outcome).toMatchObject({ status: 'processing', reference: undefined });
    const order = refOf(req, outcome);
    clockMs += (settleDelaySeconds - 1) * 1000;
    expect((await channel.query(order)).status).toBe('processing');
    clockMs += 2_000;
    const settled = await channel.query(order);
    expect(settled).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^sca_/), amount: 2_000n, currency: 'usd' });
  });

  it('settles as requires_capture with manual capture, and can then be captured', async () => {
    const req = request(sandboxTimeoutCardNumber, { capture: 'manual', amount: 777n, currency: 'jpy' });
    expect((await channel.authorize(req)).status).toBe('processing');
    const early = { orderNo: req.orderNo, reference: undefined, amount: req.amount, currency: req.currency };
    expect(await channel.capture({ ...early, amountToCapture: 777n })).toMatchObject({ status: 'failed' });
    clockMs += (settleDelaySeconds + 1) * 1000;
    const settled = await channel.query(early);
    expect(settled).toMatchObject({ status: 'requires_capture', amount: 777n, currency: 'jpy' });
    expect(await channel.capture({ ...early, reference: settled.reference, amountToCapture: 777n })).toMatchObject({ status: 'succeeded' });
  });

  it('can be reversed before it settles, and then reports canceled', async () => {
    const req = request(sandboxTimeoutCardNumber);
    await channel.authorize(req);
    const order = { orderNo: req.orderNo, reference: undefined, amount: req.amount, currency: req.currency };
    expect(await channel.cancel(order)).toMatchObject({ status: 'succeeded', reference: expect.stringMatching(/^scv_/) });
    clockMs += (settleDelaySeconds + 1) * 1000;
    expect((await channel.query(order)).status).toBe('canceled');
  });
});

describe('3-D Secure', () => {
  it.each(['4000002500003155', '4000002760003184'])('asks for a challenge with %s, and succeeds once it is completed', async (number) => {
    const req = request(number);
    const outcome = await channel.authorize(req);
    expect(outcome.status).toBe('requires_action');
    if (outcome.status !== 'requires_action') return;
    expect(outcome.action).toEqual({ type: 'redirect_to_url', url: `${publicUrl}/sandbox/cards/3ds/${outcome.reference}` });
    expect((await channel.query(refOf(req, outcome))).status).toBe('requires_action');

    const page = await app.inject({ method: 'GET', url: challengePath(outcome) });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('20.00 USD');
    expect(page.body).toContain(`•••• ${number.slice(-4)}`);
    expect(page.body).toContain('Complete authentication');
    expect(page.body).toContain('Fail authentication');
    expect(page.body).toContain('完成验证');
    expect(page.body).not.toContain(number);

    const answer = await answerChallenge(outcome, 'approve');
    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe(returnUrl);
    expect(completed).toEqual([req.orderNo]);
    // The callback runs after the answer is recorded: Fenpay's sync inside it sees the success.
    expect(seenInCallback[0]).toMatchObject({ status: 'succeeded', amount: 2_000n });
    expect(await channel.query(refOf(req, outcome))).toEqual({ status: 'succeeded', reference: outcome.reference, amount: 2_000n, currency: 'usd' });
  });

  it('holds the funds after the challenge with manual capture', async () => {
    const req = request('4000002760003184', { capture: 'manual' });
    const outcome = await channel.authorize(req);
    await answerChallenge(outcome, 'approve');
    expect(await channel.query(refOf(req, outcome))).toMatchObject({ status: 'requires_capture', amount: 2_000n });
    expect(await channel.capture({ ...refOf(req, outcome), amountToCapture: 1_500n })).toMatchObject({ status: 'succeeded' });
    expect((await channel.query(refOf(req, outcome))).status).toBe('succeeded');
  });

  it('fails with payment_intent_authentication_failure when the payer fails the challenge', async () => {
    const req = request('4000002500003155');
    const outcome = await channel.authorize(req);
    const answer = await answerChallenge(outcome, 'fail');
    expect(answer.statusCode).toBe(303);
    expect(completed).toEqual([req.orderNo]);
    const after = await channel.query(refOf(req, outcome));
    expect(after).toMatchObject({ status: 'failed', failure: { code: 'payment_intent_authentication_failure' } });
  });

  it('declines 4000008400001629 even after the challenge is completed', async () => {
    const req = request('4000008400001629');
    const outcome = await channel.authorize(req);
    expect(outcome.status).toBe('requires_action');
    await answerChallenge(outcome, 'approve');
    expect(await channel.query(refOf(req, outcome))).toMatchObject({ status: 'failed', failure: { code: 'card_declined', declineCode: 'generic_decline' } });
  });

  it('ignores a second answer: the outcome stays and Fenpay is told once', async () => {
    const req = request('4000002500003155');
    const outcome = await channel.authorize(req);
    await answerChallenge(outcome, 'approve');
    const again = await answerChallenge(outcome, 'fail');
    expect(again.statusCode).toBe(303);
    expect(completed).toEqual([req.orderNo]);
    expect((await channel.query(refOf(req, outcome))).status).toBe('succeeded');
  });

  it('answers a repeated authorize of a challenged order with the same challenge', async () => {
    const req = request('4000002500003155');
    const first = await channel.authorize(req);
    const second = await channel.authorize(req);
    expect(second).toEqual(first);
  });

  it('closes a pending challenge on cancel; a late answer then changes nothing', async () => {
    const req = request('4000002500003155');
    const outcome = await channel.authorize(req);
    expect(await channel.cancel(refOf(req, outcome))).toMatchObject({ status: 'succeeded' });
    await answerChallenge(outcome, 'approve');
    expect(completed).toEqual([]);
    expect(await channel.query(refOf(req, outcome))).toEqual({ status: 'canceled', reference: outcome.reference });
  });
});

describe('capture, cancel and refund', () => {
  it('captures part of an authorization, once', async () => {
    const req = request('4242424242424242', { capture: 'manual', amount: 5_000n });
    const order = refOf(req, await channel.authorize(req));
    expect(await channel.capture({ ...order, amountToCapture: 5_001n })).toMatchObject({ status: 'failed' });
    const captured = await channel.capture({ ...order, amountToCapture: 3_000n });
    expect(captured).toMatchObject({ status: 'succeeded', reference: expect.stringMatching(/^scc_/) });
    // A retry of the same capture is the same capture; a different one is refused.
    expect(await channel.capture({ ...order, amountToCapture: 3_000n })).toEqual(captured);
    expect(await channel.capture({ ...order, amountToCapture: 1_000n })).toMatchObject({ status: 'failed' });
    expect(await channel.query(order)).toMatchObject({ status: 'succeeded', amount: 5_000n });
  });

  it('refunds up to what was captured, idempotently per refund number', async () => {
    const req = request('5555555555554444', { amount: 1_000n });
    const order = refOf(req, await channel.authorize(req));
    const first = await channel.refund({ ...order, refundNo: 're_1', refundAmount: 600n });
    expect(first).toMatchObject({ status: 'succeeded', reference: expect.stringMatching(/^scr_/) });
    expect(await channel.refund({ ...order, refundNo: 're_1', refundAmount: 600n })).toEqual(first);
    expect(await channel.refund({ ...order, refundNo: 're_2', refundAmount: 401n })).toMatchObject({ status: 'failed' });
    expect(await channel.refund({ ...order, refundNo: 're_3', refundAmount: 400n })).toMatchObject({ status: 'succeeded' });
  });

  it('voids an authorization, after which it cannot be captured', async () => {
    const req = request('4242424242424242', { capture: 'manual' });
    const order = refOf(req, await channel.authorize(req));
    expect(await channel.cancel(order)).toMatchObject({ status: 'succeeded' });
    expect((await channel.query(order)).status).toBe('canceled');
    expect(await channel.capture({ ...order, amountToCapture: 2_000n })).toMatchObject({ status: 'failed' });
  });

  it('refuses to void a captured payment or refund a declined one', async () => {
    const paid = request('4242424242424242');
    expect(await channel.cancel(refOf(paid, await channel.authorize(paid)))).toMatchObject({ status: 'failed', message: expect.stringMatching(/refund/) });
    const declined = request('4000000000000002');
    const order = refOf(declined, await channel.authorize(declined));
    expect(await channel.refund({ ...order, refundNo: 're_x', refundAmount: 1n })).toMatchObject({ status: 'failed' });
  });

  it('keeps a query about an order it never saw processing, not failed', async () => {
    const outcome = await channel.query({ orderNo: `ord_${randomToken(20)}`, reference: undefined, amount: 100n, currency: 'usd' });
    expect(outcome.status).toBe('processing');
  });
});
