/**
 * The stripe_acquirer channel against a second, real Fenpay acting as the acquirer: its /v1 is
 * Stripe-compatible, so the adapter talks to it exactly as it would talk to api.stripe.com, through
 * stripe-node with the acquirer merchant's secret key. What the adapter says is checked against what
 * the acquirer recorded, read back through the acquirer's own API.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomToken, Secret } from '../src/kernel/index.ts';
import type { AuthorizeRequest, ChannelAdapter, ChannelOutcome, OrderRef } from '../src/channels/channel.ts';
import { createStripeAcquirerChannel } from '../src/channels/stripe-acquirer/index.ts';
import { freePort, startTestFenpay, type TestFenpay, type TestMerchant } from './support/fenpay.ts';

const cards = {
  visa: '4242424242424242',
  declined: '4000000000000002',
  insufficientFunds: '4000000000009995',
  threeDSecure: '4000002500003155',
  neverAnswers: '4000000000005043',
} as const;
const returnUrl = 'https://shop.example.test/checkout/return?order=42';
const expYear = new Date().getUTCFullYear() + 3;

let acquirer: TestFenpay;
let account: TestMerchant;
let channel: ChannelAdapter;

beforeAll(async () => {
  // The no-answer card settles at the acquirer after 1 s instead of 5 s; its worker syncs it soon after.
  acquirer = await startTestFenpay({ env: { SANDBOX_TIMEOUT_CARD_SETTLE_SECONDS: '1' } });
  account = await acquirer.createMerchant({ handlesCardData: true, name: 'Acquirer account' });
  channel = channelAt(acquirer.port);
});

afterAll(async () => {
  await acquirer?.close();
});

function channelAt(port: number, timeoutMs = 10_000): ChannelAdapter {
  return createStripeAcquirerChannel({
    credentials: { secretKey: new Secret(account.secretKey), host: '127.0.0.1', port, protocol: 'http' },
    modes: ['test'],
    timeoutMs,
  });
}

function request(number: string, overrides: Partial<AuthorizeRequest> = {}): AuthorizeRequest {
  return {
    orderNo: `att_${randomToken(20)}`,
    amount: 2_000n,
    currency: 'usd',
    capture: 'automatic',
    paymentMethod: { type: 'card', number: new Secret(number), expMonth: 12, expYear, cvc: new Secret('123'), brand: 'visa' },
    description: 'Order 42',
    returnUrl,
    livemode: false,
    ...overrides,
  };
}

function refOf(req: AuthorizeRequest, outcome: ChannelOutcome): OrderRef {
  return { orderNo: req.orderNo, reference: outcome.reference, amount: req.amount, currency: req.currency };
}

async function acquirerIntent(outcome: ChannelOutcome): Promise<Stripe.PaymentIntent> {
  expect(outcome.reference).toMatch(/^pi_/);
  return await account.stripe.paymentIntents.retrieve(outcome.reference!);
}

/** Every PaymentIntent the acquirer holds for one of our orders, read through its list API. */
async function acquirerIntentsFor(orderNo: string): Promise<Stripe.PaymentIntent[]> {
  const found: Stripe.PaymentIntent[] = [];
  for await (const pi of account.stripe.paymentIntents.list({ limit: 100 })) {
    if (pi.metadata.fenpay_order_no === orderNo) found.push(pi);
  }
  return found;
}

async function authorized(number: string, overrides: Partial<AuthorizeRequest> = {}): Promise<{ req: AuthorizeRequest; outcome: ChannelOutcome }> {
  const req = request(number, overrides);
  return { req, outcome: await channel.authorize(req) };
}

describe('authorize', () => {
  it('takes an automatic-capture payment and reports what the acquirer charged', async () => {
    const { req, outcome } = await authorized(cards.visa);
    expect(outcome).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^pi_/), amount: 2_000n, currency: 'usd' });
    const pi = await acquirerIntent(outcome);
    expect(pi).toMatchObject({ status: 'succeeded', amount: 2_000, amount_received: 2_000, currency: 'usd', capture_method: 'automatic', metadata: { fenpay_order_no: req.orderNo } });
    expect(await channel.query(refOf(req, outcome))).toEqual(outcome);
  });

  it('holds a manual-capture authorization without taking the money', async () => {
    const { outcome } = await authorized(cards.visa, { capture: 'manual', amount: 3_500n });
    expect(outcome).toEqual({ status: 'requires_capture', reference: expect.stringMatching(/^pi_/), amount: 3_500n, currency: 'usd' });
    expect(await acquirerIntent(outcome)).toMatchObject({ status: 'requires_capture', capture_method: 'manual', amount_capturable: 3_500, amount_received: 0 });
  });

  it('reports a generic decline as card_declined with its decline code, and a query agrees', async () => {
    const { req, outcome } = await authorized(cards.declined);
    expect(outcome).toEqual({
      status: 'failed',
      reference: expect.stringMatching(/^pi_/),
      failure: { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
    });
    expect(await acquirerIntent(outcome)).toMatchObject({ status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'generic_decline' } });
    expect(await channel.query(refOf(req, outcome))).toEqual(outcome);
  });

  it('reports insufficient funds', async () => {
    const { outcome } = await authorized(cards.insufficientFunds);
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' } });
  });

  it('hands on the 3-D Secure redirect, and a query sees the payment once the payer completes it', async () => {
    const { req, outcome } = await authorized(cards.threeDSecure);
    expect(outcome.status).toBe('requires_action');
    if (outcome.status !== 'requires_action' || outcome.action.type !== 'redirect_to_url') throw new Error('expected a redirect');
    const challenge = new URL(outcome.action.url);
    expect(challenge.origin).toBe(acquirer.url);
    expect(await acquirerIntent(outcome)).toMatchObject({ status: 'requires_action', next_action: { type: 'redirect_to_url', redirect_to_url: { return_url: returnUrl } } });

    // The payer completes the challenge on the acquirer's page, which then sends them back to the shop.
    const answer = await fetch(challenge, { method: 'POST', body: new URLSearchParams({ result: 'approve' }), redirect: 'manual' });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe(returnUrl);
    expect(await channel.query(refOf(req, outcome))).toEqual({ status: 'succeeded', reference: outcome.reference, amount: 2_000n, currency: 'usd' });
  });

  it('keeps the never-answering card processing until a later query learns the acquirer approved it', async () => {
    const { req, outcome } = await authorized(cards.neverAnswers);
    expect(outcome).toMatchObject({ status: 'processing', reference: expect.stringMatching(/^pi_/) });
    let latest = await channel.query(refOf(req, outcome));
    expect(latest.status).toBe('processing');
    const deadline = Date.now() + 30_000;
    while (latest.status === 'processing' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      latest = await channel.query(refOf(req, outcome));
    }
    expect(latest).toEqual({ status: 'succeeded', reference: outcome.reference, amount: 2_000n, currency: 'usd' });
  });

  it('never returns or reveals the card number', async () => {
    const { outcome } = await authorized(cards.declined);
    expect(JSON.stringify(outcome, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))).not.toContain('0000000000000002');
  });
});

describe('idempotency', () => {
  it('creates one PaymentIntent at the acquirer when authorize runs twice for one order', async () => {
    const req = request(cards.visa);
    const first = await channel.authorize(req);
    const second = await channel.authorize(req);
    expect(first.status).toBe('succeeded');
    expect(second).toEqual(first);
    const intents = await acquirerIntentsFor(req.orderNo);
    expect(intents.map((pi) => pi.id)).toEqual([first.reference]);
  });

  it('finds the PaymentIntent by replaying its creation when authorize never learned the reference', async () => {
    const { req, outcome } = await authorized(cards.visa, { capture: 'manual' });
    const found = await channel.query({ orderNo: req.orderNo, reference: undefined, amount: req.amount, currency: req.currency });
    expect(found).toEqual(outcome);
    expect((await acquirerIntentsFor(req.orderNo)).map((pi) => pi.id)).toEqual([outcome.reference]);
    // The same lookup lets an operation act on an order whose reference we never learned.
    expect(await channel.cancel({ orderNo: req.orderNo, reference: undefined, amount: req.amount, currency: req.currency })).toEqual({ status: 'succeeded', reference: outcome.reference });
  });

  it('reports a declined order as failed when replaying after a lost answer', async () => {
    const { req, outcome } = await authorized(cards.insufficientFunds);
    const found = await channel.query({ orderNo: req.orderNo, reference: undefined, amount: req.amount, currency: req.currency });
    expect(found).toEqual(outcome);
  });
});

describe('capture and cancel', () => {
  it('captures a manual authorization in full', async () => {
    const { req, outcome } = await authorized(cards.visa, { capture: 'manual' });
    expect(await channel.capture({ ...refOf(req, outcome), amountToCapture: 2_000n })).toEqual({ status: 'succeeded', reference: outcome.reference });
    expect(await acquirerIntent(outcome)).toMatchObject({ status: 'succeeded', amount_received: 2_000 });
    expect(await channel.query(refOf(req, outcome))).toEqual({ status: 'succeeded', reference: outcome.reference, amount: 2_000n, currency: 'usd' });
  });

  it('captures part of an authorization and releases the rest', async () => {
    const { req, outcome } = await authorized(cards.visa, { capture: 'manual', amount: 5_000n });
    expect(await channel.capture({ ...refOf(req, outcome), amountToCapture: 1_200n })).toEqual({ status: 'succeeded', reference: outcome.reference });
    expect(await acquirerIntent(outcome)).toMatchObject({ status: 'succeeded', amount: 5_000, amount_received: 1_200, amount_capturable: 0 });
    // A retried capture replays instead of capturing again.
    expect(await channel.capture({ ...refOf(req, outcome), amountToCapture: 1_200n })).toEqual({ status: 'succeeded', reference: outcome.reference });
    expect(await acquirerIntent(outcome)).toMatchObject({ amount_received: 1_200 });
  });

  it('voids an authorization, and a query then says canceled', async () => {
    const { req, outcome } = await authorized(cards.visa, { capture: 'manual' });
    expect(await channel.cancel(refOf(req, outcome))).toEqual({ status: 'succeeded', reference: outcome.reference });
    expect(await acquirerIntent(outcome)).toMatchObject({ status: 'canceled', amount_received: 0 });
    expect(await channel.query(refOf(req, outcome))).toEqual({ status: 'canceled', reference: outcome.reference });
  });

  it('counts a PaymentIntent someone else already canceled as voided', async () => {
    const { req, outcome } = await authorized(cards.visa, { capture: 'manual' });
    await account.stripe.paymentIntents.cancel(outcome.reference!);
    expect(await channel.cancel(refOf(req, outcome))).toEqual({ status: 'succeeded', reference: outcome.reference });
  });

  it('refuses to void a captured payment', async () => {
    const { req, outcome } = await authorized(cards.visa);
    expect(await channel.cancel(refOf(req, outcome))).toEqual({ status: 'failed', message: expect.stringContaining('refund it instead') });
    expect(await acquirerIntent(outcome)).toMatchObject({ status: 'succeeded' });
  });
});

describe('refunds', () => {
  it('refunds in parts up to the captured amount, replays a retried refund, and queries each refund', async () => {
    const { req, outcome } = await authorized(cards.visa, { amount: 5_000n });
    const ref = refOf(req, outcome);
    const first = { ...ref, refundNo: `rfa_${randomToken(16)}`, refundAmount: 2_000n };
    const second = { ...ref, refundNo: `rfa_${randomToken(16)}`, refundAmount: 3_000n };

    const firstOutcome = await channel.refund(first);
    expect(firstOutcome).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^re_/) });
    expect(await channel.refund(first)).toEqual(firstOutcome);
    expect(await channel.queryRefund!(first)).toEqual(firstOutcome);
    // Before it is sent, the second refund is unknown to the acquirer: processing, not failed.
    expect(await channel.queryRefund!(second)).toEqual({ status: 'processing', reason: 'the acquirer has no refund with this refund number' });

    const secondOutcome = await channel.refund(second);
    expect(secondOutcome).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^re_/) });
    expect(secondOutcome).not.toEqual(firstOutcome);
    expect(await channel.queryRefund!(second)).toEqual(secondOutcome);

    const refunds = await account.stripe.refunds.list({ payment_intent: outcome.reference!, limit: 100 });
    expect(refunds.data.map((refund) => [refund.amount, refund.metadata?.fenpay_refund_no]).sort()).toEqual([
      [2_000, first.refundNo],
      [3_000, second.refundNo],
    ]);

    // Nothing is left to refund: the acquirer says no, and that is final.
    expect(await channel.refund({ ...ref, refundNo: `rfa_${randomToken(16)}`, refundAmount: 1n })).toMatchObject({ status: 'failed' });
  });

  it('refunds a payment in full', async () => {
    const { req, outcome } = await authorized(cards.visa);
    const full = { ...refOf(req, outcome), refundNo: `rfa_${randomToken(16)}`, refundAmount: 2_000n };
    const refunded = await channel.refund(full);
    expect(refunded).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^re_/) });
    expect(await account.stripe.refunds.retrieve((refunded as { reference: string }).reference)).toMatchObject({ amount: 2_000, status: 'succeeded', payment_intent: outcome.reference });
  });
});

describe('when the acquirer does not answer', () => {
  it('says processing, never failed, when nothing listens on the port', async () => {
    const down = channelAt(await freePort(), 2_000);
    const req = request(cards.visa);
    const outcome = await down.authorize(req);
    expect(outcome).toMatchObject({ status: 'processing', reference: undefined, reason: expect.stringContaining('StripeConnectionError') });
    expect(JSON.stringify(outcome)).not.toContain(account.secretKey);
    const ref = refOf(req, outcome);
    expect((await down.query(ref)).status).toBe('processing');
    expect((await down.capture({ ...ref, amountToCapture: 2_000n })).status).toBe('processing');
    expect((await down.cancel(ref)).status).toBe('processing');
    expect((await down.refund({ ...ref, refundNo: 'rfa_down', refundAmount: 1n })).status).toBe('processing');
    expect((await down.queryRefund!({ ...ref, refundNo: 'rfa_down', refundAmount: 1n })).status).toBe('processing');
  });

  it('says processing when the acquirer accepts the connection and never answers', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const address = silent.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const startedAt = Date.now();
      const outcome = await channelAt(address.port, 300).authorize(request(cards.visa));
      expect(outcome).toMatchObject({ status: 'processing', reference: undefined });
      // One attempt and one retry, each cut off by the timeout, not the 80 s stripe-node default.
      expect(Date.now() - startedAt).toBeLessThan(10_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('resolves an order whose authorize hit a stopped acquirer once the acquirer is back', async () => {
    // The first call dies before the acquirer hears of the order; the query (at the live acquirer) then
    // creates the unconfirmed PaymentIntent, which says processing — nothing was charged — until a retried
    // authorize confirms it: still one PaymentIntent.
    const req = request(cards.visa);
    expect((await channelAt(await freePort(), 1_000).authorize(req)).status).toBe('processing');
    const looked = await channel.query({ orderNo: req.orderNo, reference: undefined, amount: req.amount, currency: req.currency });
    expect(looked).toMatchObject({ status: 'processing', reference: expect.stringMatching(/^pi_/), reason: 'the acquirer PaymentIntent has not been confirmed' });
    const retried = await channel.authorize(req);
    expect(retried).toEqual({ status: 'succeeded', reference: looked.reference, amount: 2_000n, currency: 'usd' });
    expect((await acquirerIntentsFor(req.orderNo)).map((pi) => pi.id)).toEqual([looked.reference]);
  });
});

describe('the channel as the registry sees it', () => {
  it('offers cards with every capability, in the mode of its key', () => {
    expect(channel).toMatchObject({
      id: 'stripe_acquirer',
      paymentMethodTypes: ['card'],
      modes: ['test'],
      capabilities: { manualCapture: true, partialCapture: true, refund: true, partialRefund: true, cancel: true, query: true },
    });
  });

  it('treats a live-mode request on a test key, or a non-card method, as a bug', async () => {
    await expect(channel.authorize(request(cards.visa, { livemode: true }))).rejects.toThrow('serves test mode only');
    await expect(channel.authorize(request(cards.visa, { paymentMethod: { type: 'alipay' } }))).rejects.toThrow('cannot authorize a alipay payment method');
  });
});
