/**
 * The channel contract: one suite of behaviours every ChannelAdapter must show against its provider
 * (an emulator, or a second Fenpay for the card acquirer), whatever the provider's protocol. A channel's
 * test file supplies a harness — the adapter, a valid amount, a payer who approves or declines, a fault
 * switch, the merchant's notification endpoint — and calls `describeChannelContract`.
 *
 * What the contract holds an adapter to (channel.ts): it translates and decides nothing; an answer it
 * did not get or cannot trust is `processing`, never a guessed final; a repeated order number never
 * charges twice; only bugs throw. A case that genuinely does not apply to a channel is declared in its
 * traits with the reason, and is skipped with that reason in its title — never passed by default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomToken } from '../kernel/index.ts';
import type {
  AuthorizeRequest,
  ChannelAdapter,
  ChannelFailure,
  ChannelNotification,
  ChannelOutcome,
  ChannelPaymentMethod,
  HttpReply,
  InboundHttp,
  OperationOutcome,
  OrderRef,
  RefundRequest,
  VerifiedNotification,
} from './channel.ts';

export const contractFaultKinds = ['timeout', 'server_error', 'bad_signature'] as const;
/** timeout: the answer never comes; server_error: a 5xx instead of an answer; bad_signature: an answer that does not verify. */
export type ContractFaultKind = (typeof contractFaultKinds)[number];

/** What the payer will do: pay, refuse, or leave the order waiting (a wallet left unpaid, a 3-D Secure challenge left open). */
export type PayerScenario = 'approve' | 'decline' | 'unpaid';

/** Cases a channel may declare not applicable (with the reason). */
export type ContractCase = 'fault_on_authorize' | 'payment_after_cancel';

/** Static facts about a channel, known before its harness starts (they decide which cases run). */
export interface ChannelContractTraits {
  /** Per fault kind: `true` when the harness can inject it, otherwise why it cannot. */
  readonly faults: Readonly<Record<ContractFaultKind, true | string>>;
  /** `true` when the provider sends asynchronous notifications, otherwise why the channel has none. */
  readonly notifies: true | string;
  /**
   * How an order the payer declined reads once final: `failed` (the default), or `canceled` for a
   * provider that closes the order and reports it like any other close — with the reason.
   */
  readonly declinedOrderReads?: { readonly status: 'canceled'; readonly reason: string };
  readonly notApplicable?: Readonly<Partial<Record<ContractCase, string>>>;
}

/** The channel under test and the world around it, built by the channel's test file. */
export interface ChannelContractHarness {
  readonly adapter: ChannelAdapter;
  /** The payment method type the adapter is tested with; one of its paymentMethodTypes. */
  readonly methodType: string;
  /** A currency and an amount (minor units) the channel accepts. The refund cases use parts of it. */
  readonly currency: string;
  readonly amount: bigint;
  /** A fresh order number the provider accepts. */
  newOrderNo(): string;
  /** The payment method for a scenario: card channels choose a test card, wallets return `{ type }`. */
  paymentMethod(scenario: PayerScenario): ChannelPaymentMethod;
  /** Fields every AuthorizeRequest carries for this channel (flow, returnUrl, notifyUrl, subject …). */
  readonly requestDefaults?: Partial<AuthorizeRequest>;
  /** The payer completes the next action of `outcome` (cashier page, QR, 3-D Secure) and pays. May throw when the provider refuses. */
  payerApproves(orderNo: string, outcome: ChannelOutcome): Promise<void>;
  /** The payer refuses at the provider. */
  payerDeclines(orderNo: string, outcome: ChannelOutcome): Promise<void>;
  /**
   * Arms a fault for the provider's next answer (and for the automatic retries of an SDK that retries
   * on its own) until `clearFaults`. Only kinds declared `true` in the traits are asked for.
   */
  failNextCall(kind: ContractFaultKind): Promise<void>;
  clearFaults(): Promise<void>;
  /** How many payments (trades, PaymentIntents, consumes) the provider holds for an order, where it can tell. */
  paymentsAtProvider?(orderNo: string): Promise<number>;
  /** The merchant's notification endpoint (channels that notify): every request it got, as the adapter judged it. */
  readonly notifications?: NotificationLog;
  /** A copy of a genuine notification with its content changed (the amount, a field) — what an attacker would send. */
  tamper?(inbound: InboundHttp): InboundHttp;
  /** The same adapter, wired to a provider that does not answer at all. */
  unreachableAdapter?(): ChannelAdapter;
  teardown(): Promise<void>;
}

export interface ReceivedNotification {
  readonly inbound: InboundHttp;
  readonly verdict: VerifiedNotification;
  /** What the endpoint answered (the ack, the reply, or a forced refusal). */
  readonly replied: HttpReply;
}

/** The merchant's notification endpoint, without the HTTP: the harness routes requests to `handle`. */
export interface NotificationLog {
  handle(inbound: InboundHttp): Promise<HttpReply>;
  received(): readonly ReceivedNotification[];
  /** Answers the next `count` verified notifications about `orderNo` with 503, so the provider retries. */
  refuseNextFor(orderNo: string, count: number): void;
}

export function createNotificationLog(adapter: () => ChannelAdapter): NotificationLog {
  const received: ReceivedNotification[] = [];
  const refusals = new Map<string, number>();
  return {
    async handle(inbound) {
      const channel = adapter();
      if (channel.parseNotification === undefined) return { status: 404, contentType: 'text/plain', body: 'no notifications' };
      const verdict = await channel.parseNotification(inbound);
      let replied = verdict.ok ? verdict.ack : verdict.reply;
      const left = verdict.ok ? (refusals.get(verdict.notification.orderNo) ?? 0) : 0;
      if (verdict.ok && left > 0) {
        refusals.set(verdict.notification.orderNo, left - 1);
        replied = { status: 503, contentType: 'text/plain; charset=utf-8', body: 'busy' };
      }
      received.push({ inbound, verdict, replied });
      return replied;
    },
    received: () => received,
    refuseNextFor(orderNo, count) {
      refusals.set(orderNo, count);
    },
  };
}

const failureCodes: readonly ChannelFailure['code'][] = [
  'card_declined',
  'expired_card',
  'incorrect_cvc',
  'incorrect_number',
  'processing_error',
  'payment_intent_authentication_failure',
];
const settleTimeoutMs = 10_000;
const pollIntervalMs = 50;
/** How long to ask before accepting that the provider may never have heard of it (then the operation is safely re-sent). */
const mayNotKnowMs = 2_000;
/** How long a query may keep saying "not yet" before the contract expects the truth. */
const pending = new Set<ChannelOutcome['status']>(['processing', 'requires_action']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = settleTimeoutMs): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(pollIntervalMs);
  }
}

function show(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

function isTwoHundred(status: number): boolean {
  return status >= 200 && status < 300;
}

/** The failure is one of ChannelFailure's codes, with a message for people. */
function expectAllowedFailure(outcome: ChannelOutcome): void {
  expect(outcome.status, show(outcome)).toBe('failed');
  if (outcome.status !== 'failed') return;
  expect(failureCodes).toContain(outcome.failure.code);
  expect(outcome.failure.declineCode === undefined || typeof outcome.failure.declineCode === 'string').toBe(true);
  expect(outcome.failure.message.length).toBeGreaterThan(0);
}

interface Order {
  readonly request: AuthorizeRequest;
  /** The latest outcome the channel gave for the order. */
  outcome: ChannelOutcome;
  /** The order as the channel's follow-up calls want it: the latest reference known. */
  ref: OrderRef;
}

export function describeChannelContract(name: string, makeHarness: () => Promise<ChannelContractHarness>, traits: ChannelContractTraits): void {
  describe(`channel contract: ${name}`, () => {
    let h: ChannelContractHarness;

    beforeAll(async () => {
      h = await makeHarness();
    });

    afterAll(async () => {
      await h?.teardown();
    });

    const notApplicable = (kase: ContractCase): string | undefined => traits.notApplicable?.[kase];
    const skipOr = (reason: string | undefined) => (reason === undefined ? it : it.skip);
    const titled = (title: string, reason: string | undefined) => (reason === undefined ? title : `${title} — not applicable: ${reason}`);

    function request(scenario: PayerScenario, overrides: Partial<AuthorizeRequest> = {}): AuthorizeRequest {
      return {
        orderNo: h.newOrderNo(),
        amount: h.amount,
        currency: h.currency,
        capture: 'automatic',
        paymentMethod: h.paymentMethod(scenario),
        description: 'Fenpay channel contract',
        returnUrl: undefined,
        livemode: false,
        ...h.requestDefaults,
        ...overrides,
      };
    }

    function refOf(req: AuthorizeRequest, reference: string | undefined): OrderRef {
      return { orderNo: req.orderNo, reference, amount: req.amount, currency: req.currency };
    }

    function track(order: Order, outcome: ChannelOutcome): ChannelOutcome {
      order.outcome = outcome;
      if (outcome.reference !== undefined) order.ref = refOf(order.request, outcome.reference);
      return outcome;
    }

    async function authorize(req: AuthorizeRequest): Promise<Order> {
      const outcome = await h.adapter.authorize(req);
      return { request: req, outcome, ref: refOf(req, outcome.reference) };
    }

    /** Queries until the order is final (or the time is up); returns the last answer. */
    async function settle(order: Order, timeoutMs = settleTimeoutMs): Promise<ChannelOutcome> {
      return await poll(
        async () => track(order, await h.adapter.query(order.ref)),
        (outcome) => !pending.has(outcome.status),
        timeoutMs,
      );
    }

    function expectSucceededExactly(outcome: ChannelOutcome, req: AuthorizeRequest): void {
      expect(outcome, show(outcome)).toEqual({ status: 'succeeded', reference: expect.any(String), amount: req.amount, currency: req.currency });
    }

    /** An order the payer paid, confirmed by query. */
    async function paidOrder(overrides: Partial<AuthorizeRequest> = {}): Promise<Order> {
      const order = await authorize(request('approve', overrides));
      expect(['succeeded', 'requires_action', 'processing'], show(order.outcome)).toContain(order.outcome.status);
      if (order.outcome.status === 'requires_action') await h.payerApproves(order.request.orderNo, order.outcome);
      const settled = await settle(order);
      expectSucceededExactly(settled, order.request);
      return order;
    }

    /** A refund's final outcome: the answer, then queryRefund while it is processing. */
    async function settleRefund(refund: RefundRequest, first: OperationOutcome, timeoutMs = settleTimeoutMs): Promise<OperationOutcome> {
      const queryRefund = h.adapter.queryRefund?.bind(h.adapter);
      if (first.status !== 'processing' || queryRefund === undefined) return first;
      return await poll(
        () => queryRefund(refund),
        (outcome) => outcome.status !== 'processing',
        timeoutMs,
      );
    }

    async function refund(order: Order, refundAmount: bigint, refundNo = h.newOrderNo()): Promise<{ refund: RefundRequest; outcome: OperationOutcome }> {
      const req: RefundRequest = { ...order.ref, refundNo, refundAmount };
      return { refund: req, outcome: await settleRefund(req, await h.adapter.refund(req)) };
    }

    /** The order holds exactly `left` more to refund: that much succeeds, one unit more after it does not. */
    async function expectRefundable(order: Order, left: bigint): Promise<void> {
      if (left > 0n) {
        const rest = await refund(order, left);
        expect(rest.outcome, show(rest.outcome)).toMatchObject({ status: 'succeeded', reference: expect.any(String) });
      }
      const beyond = await refund(order, 1n);
      expect(beyond.outcome.status, show(beyond.outcome)).not.toBe('succeeded');
    }

    async function expectOnePaymentAtProvider(orderNo: string): Promise<void> {
      if (h.paymentsAtProvider === undefined) return;
      expect(await h.paymentsAtProvider(orderNo)).toBe(1);
    }

    /** The payer tries again where the provider should refuse; a harness may throw when it does. */
    async function payerTries(orderNo: string, outcome: ChannelOutcome): Promise<void> {
      if (outcome.status !== 'requires_action') return;
      try {
        await h.payerApproves(orderNo, outcome);
      } catch {
        // The provider refused to take the money: what we want.
      }
    }

    describe('(a) metadata', () => {
      it('names itself, serves test mode, and offers the method it is tested with', () => {
        const { adapter } = h;
        expect(adapter.id).toMatch(/^[a-z][a-z0-9_]*$/);
        expect(adapter.displayName.trim().length).toBeGreaterThan(0);
        expect(adapter.modes.length).toBeGreaterThan(0);
        expect(new Set(adapter.modes).size).toBe(adapter.modes.length);
        for (const mode of adapter.modes) expect(['test', 'live']).toContain(mode);
        expect(adapter.modes).toContain('test');
        expect(adapter.paymentMethodTypes).toContain(h.methodType);
        expect(new Set(adapter.paymentMethodTypes).size).toBe(adapter.paymentMethodTypes.length);
      });

      it('declares capabilities that are consistent with each other and with its optional methods', () => {
        const { capabilities } = h.adapter;
        expect(Object.keys(capabilities).sort()).toEqual(['cancel', 'manualCapture', 'partialCapture', 'partialRefund', 'query', 'refund']);
        for (const flag of Object.values(capabilities)) expect(typeof flag).toBe('boolean');
        if (capabilities.partialCapture) expect(capabilities.manualCapture).toBe(true);
        if (capabilities.partialRefund) expect(capabilities.refund).toBe(true);
        // The contract resolves every unknown through query: a channel without it could not keep "processing" honest.
        expect(capabilities.query).toBe(true);
        expect(typeof h.adapter.parseNotification === 'function').toBe(traits.notifies === true);
      });

      it('does what its capture capability says', async () => {
        if (h.adapter.capabilities.manualCapture) {
          const held = await authorize(request('approve', { capture: 'manual' }));
          if (held.outcome.status === 'requires_action') await h.payerApproves(held.request.orderNo, held.outcome);
          const authorized = await settle(held);
          expect(authorized, show(authorized)).toEqual({ status: 'requires_capture', reference: expect.any(String), amount: h.amount, currency: h.currency });
          const captured = await h.adapter.capture({ ...held.ref, amountToCapture: h.amount });
          expect(captured, show(captured)).toMatchObject({ status: 'succeeded', reference: expect.any(String) });
          expectSucceededExactly(await settle(held), held.request);
          if (h.adapter.capabilities.partialCapture) {
            const part = await authorize(request('approve', { capture: 'manual' }));
            if (part.outcome.status === 'requires_action') await h.payerApproves(part.request.orderNo, part.outcome);
            expect((await settle(part)).status).toBe('requires_capture');
            const partial = await h.adapter.capture({ ...part.ref, amountToCapture: h.amount / 2n });
            expect(partial, show(partial)).toMatchObject({ status: 'succeeded' });
            expect((await settle(part)).status).toBe('succeeded');
          }
        } else {
          // No manual capture: a request for it is refused before anything is sent, never captured at once.
          const refused = await h.adapter.authorize(request('approve', { capture: 'manual' }));
          expectAllowedFailure(refused);
          const paid = await paidOrder();
          const capture = await h.adapter.capture({ ...paid.ref, amountToCapture: h.amount });
          expect(capture.status, show(capture)).toBe('failed');
        }
      });
    });

    describe('(b) approval', () => {
      it('authorize, the payer approves, and query says succeeded with exactly the amount and currency asked', async () => {
        const amount = h.amount - 1n;
        const order = await authorize(request('approve', { amount }));
        // Before the payer acts: on the way, never final the wrong way.
        expect(['succeeded', 'requires_action', 'processing'], show(order.outcome)).toContain(order.outcome.status);
        if (order.outcome.status === 'succeeded') expectSucceededExactly(order.outcome, order.request);
        if (order.outcome.status === 'requires_action') await h.payerApproves(order.request.orderNo, order.outcome);
        expectSucceededExactly(await settle(order), order.request);
        // Asking again changes nothing.
        expectSucceededExactly(await h.adapter.query(order.ref), order.request);
      });
    });

    describe('(c) decline', () => {
      const canceled = traits.declinedOrderReads;
      it(`a declined payment is ${canceled === undefined ? 'failed with an allowed ChannelFailure code' : `canceled (${canceled.reason})`}, never succeeded`, async () => {
        const order = await authorize(request('decline'));
        expect(['succeeded', 'requires_capture'], show(order.outcome)).not.toContain(order.outcome.status);
        if (order.outcome.status === 'failed') expectAllowedFailure(order.outcome);
        if (order.outcome.status === 'requires_action') await h.payerDeclines(order.request.orderNo, order.outcome);
        const final = await settle(order);
        if (canceled === undefined) expectAllowedFailure(final);
        else expect(final.status, show(final)).toBe('canceled');
        // And it stays so.
        const again = await h.adapter.query(order.ref);
        expect(again.status, show(again)).toBe(final.status);
      });
    });

    describe('(d) orders that were never paid', () => {
      it('an order number the provider never saw is not succeeded, and the query does not throw', async () => {
        const outcome = await h.adapter.query({ orderNo: h.newOrderNo(), reference: undefined, amount: h.amount, currency: h.currency });
        expect(['succeeded', 'requires_capture'], show(outcome)).not.toContain(outcome.status);
      });

      it('an order the payer has not paid is still waiting (processing or requires_action)', async () => {
        const order = await authorize(request('unpaid'));
        expect(['requires_action', 'processing'], show(order.outcome)).toContain(order.outcome.status);
        const outcome = await h.adapter.query(order.ref);
        expect(['requires_action', 'processing'], show(outcome)).toContain(outcome.status);
      });
    });

    describe('(e) idempotency', () => {
      it('authorize twice, pay (and try to pay twice): one payment of exactly the amount', async () => {
        const req = request('approve');
        const first = await authorize(req);
        const second = await authorize(req);
        for (const o of [first.outcome, second.outcome]) expect(['succeeded', 'requires_action', 'processing'], show(o)).toContain(o.status);
        if (first.outcome.status === 'requires_action') await h.payerApproves(req.orderNo, first.outcome);
        await payerTries(req.orderNo, second.outcome);
        const order: Order = { request: req, outcome: first.outcome, ref: first.ref.reference === undefined ? second.ref : first.ref };
        expectSucceededExactly(await settle(order), req);

        // Once paid, a third authorize must not say the payment failed, nor open a second one.
        const third = await h.adapter.authorize(req);
        expect(['failed', 'canceled', 'requires_capture'], show(third)).not.toContain(third.status);
        if (third.status === 'succeeded') expectSucceededExactly(third, req);
        await payerTries(req.orderNo, third);
        expectSucceededExactly(await settle(order), req);
        await expectOnePaymentAtProvider(req.orderNo);
        // The provider holds exactly one amount for the order: refundable once, not more.
        await expectRefundable(order, h.amount);
      });
    });

    describe('(f) refunds', () => {
      it('a partial refund, its retry, then the rest succeed; an over-refund never does', async () => {
        const order = await paidOrder();
        const part = h.amount / 3n;
        const first = await refund(order, part);
        expect(first.outcome, show(first.outcome)).toMatchObject({ status: 'succeeded', reference: expect.any(String) });
        // The same refund number again is the same refund, not a second one.
        const retried = await settleRefund(first.refund, await h.adapter.refund(first.refund));
        expect(retried.status, show(retried)).toBe('succeeded');
        const over = await refund(order, h.amount - part + 1n);
        expect(over.outcome.status, show(over.outcome)).not.toBe('succeeded');
        await expectRefundable(order, h.amount - part);
        // Refunded or not, the payment itself succeeded.
        expectSucceededExactly(await h.adapter.query(order.ref), order.request);
      });

      it('a full refund at once succeeds; nothing is left after it', async () => {
        const order = await paidOrder();
        await expectRefundable(order, h.amount);
      });
    });

    describe('(g) faults: unknown is processing, and the truth is found later', () => {
      for (const kind of contractFaultKinds) {
        const support = traits.faults[kind];
        const reason = support === true ? undefined : support;

        skipOr(reason)(titled(`${kind} on query of a paid order → processing; then succeeded with the amount`, reason), async () => {
          const order = await paidOrder();
          await h.failNextCall(kind);
          let faulted: ChannelOutcome;
          try {
            faulted = await h.adapter.query(order.ref);
          } finally {
            await h.clearFaults();
          }
          expect(faulted.status, show(faulted)).toBe('processing');
          expectSucceededExactly(await settle(order), order.request);
        });

        const onAuthorize = reason ?? notApplicable('fault_on_authorize');
        skipOr(onAuthorize)(titled(`${kind} on authorize → processing; the order is then resolved and paid once`, onAuthorize), async () => {
          const req = request('approve');
          await h.failNextCall(kind);
          let faulted: Order;
          try {
            faulted = await authorize(req);
          } finally {
            await h.clearFaults();
          }
          expect(faulted.outcome.status, show(faulted.outcome)).toBe('processing');
          let outcome = await settle(faulted, mayNotKnowMs);
          // A query may not know (the provider never heard of the order, or the answer was all there was):
          // the same authorize again is the safe way on, and must not open a second payment.
          if (outcome.status !== 'succeeded') outcome = track(faulted, await h.adapter.authorize(req));
          expect(['succeeded', 'requires_action', 'processing'], show(outcome)).toContain(outcome.status);
          if (outcome.status === 'requires_action') await h.payerApproves(req.orderNo, outcome);
          expectSucceededExactly(await settle(faulted), req);
          await expectOnePaymentAtProvider(req.orderNo);
        });

        skipOr(reason)(titled(`${kind} on refund → processing; then the refund is found (or safely re-sent) and applied once`, reason), async () => {
          const order = await paidOrder();
          const part = h.amount / 4n;
          const req: RefundRequest = { ...order.ref, refundNo: h.newOrderNo(), refundAmount: part };
          await h.failNextCall(kind);
          let faulted: OperationOutcome;
          try {
            faulted = await h.adapter.refund(req);
          } finally {
            await h.clearFaults();
          }
          expect(faulted.status, show(faulted)).toBe('processing');
          let truth = await settleRefund(req, faulted, mayNotKnowMs);
          expect(truth.status, show(truth)).not.toBe('failed');
          // Still unknown (the provider never got it): re-sending the same refund number is safe.
          if (truth.status !== 'succeeded') truth = await settleRefund(req, await h.adapter.refund(req));
          expect(truth, show(truth)).toMatchObject({ status: 'succeeded', reference: expect.any(String) });
          await expectRefundable(order, h.amount - part);
        });
      }
    });

    describe('(h) cancel', () => {
      it('cancel of an unpaid order succeeds (or the channel says it cannot); the order is never succeeded after it', async () => {
        const order = await authorize(request('unpaid'));
        expect(['requires_action', 'processing'], show(order.outcome)).toContain(order.outcome.status);
        const canceled = await h.adapter.cancel(order.ref);
        if (h.adapter.capabilities.cancel) expect(canceled, show(canceled)).toMatchObject({ status: 'succeeded', reference: expect.any(String) });
        else expect(canceled.status, show(canceled)).toBe('failed');
        const after = await h.adapter.query(order.ref);
        expect(['succeeded', 'requires_capture'], show(after)).not.toContain(after.status);
        // Canceling twice is harmless.
        if (canceled.status === 'succeeded') expect((await h.adapter.cancel(order.ref)).status).not.toBe('failed');
      });

      const late = notApplicable('payment_after_cancel');
      skipOr(late)(titled('after a successful cancel the payer can no longer pay', late), async () => {
        const order = await authorize(request('unpaid'));
        const canceled = await h.adapter.cancel(order.ref);
        expect(canceled.status, show(canceled)).toBe('succeeded');
        await payerTries(order.request.orderNo, order.outcome);
        const after = await h.adapter.query(order.ref);
        expect(['succeeded', 'requires_capture'], show(after)).not.toContain(after.status);
      });
    });

    describe('(i) notifications', () => {
      const reason = traits.notifies === true ? undefined : traits.notifies;

      function verifiedFor(orderNo: string): (ReceivedNotification & { notification: ChannelNotification })[] {
        return (h.notifications?.received() ?? []).flatMap((r) => (r.verdict.ok && r.verdict.notification.orderNo === orderNo ? [{ ...r, notification: r.verdict.notification }] : []));
      }

      async function payments(orderNo: string, count: number) {
        const found = await poll(
          async () => verifiedFor(orderNo).filter((r) => r.notification.kind === 'payment'),
          (list) => list.length >= count,
        );
        expect(found.length, `payment notifications for ${orderNo}`).toBeGreaterThanOrEqual(count);
        return found;
      }

      skipOr(reason)(titled('a genuine payment notification verifies, says what happened, and is acknowledged', reason), async () => {
        const order = await paidOrder();
        const [first] = await payments(order.request.orderNo, 1);
        const { verdict, notification } = first!;
        expect(notification.kind).toBe('payment');
        expect(notification.notificationId.length).toBeGreaterThan(0);
        if (notification.kind === 'payment') expectSucceededExactly(notification.outcome, order.request);
        expect(verdict.ok && isTwoHundred(verdict.ack.status)).toBe(true);
        expect(isTwoHundred(first!.replied.status)).toBe(true);
      });

      skipOr(reason)(titled('a tampered notification does not verify and is answered with a non-2xx reply', reason), async () => {
        const order = await paidOrder();
        const [genuine] = await payments(order.request.orderNo, 1);
        expect(h.tamper !== undefined, 'a harness for a notifying channel provides tamper()').toBe(true);
        const tampered = h.tamper!(genuine!.inbound);
        expect(tampered.rawBody.equals(genuine!.inbound.rawBody) && show(tampered.headers) === show(genuine!.inbound.headers)).toBe(false);
        const verdict = await h.adapter.parseNotification!(tampered);
        expect(verdict.ok, show(verdict)).toBe(false);
        if (!verdict.ok) {
          expect(verdict.reason.length).toBeGreaterThan(0);
          expect(isTwoHundred(verdict.reply.status), show(verdict.reply)).toBe(false);
        }
        // The genuine one still verifies, to the same notification.
        const again = await h.adapter.parseNotification!(genuine!.inbound);
        expect(again.ok && again.notification.notificationId).toBe(genuine!.notification.notificationId);
      });

      skipOr(reason)(titled('a notification the merchant refused is retried with the same notificationId', reason), async () => {
        const req = request('approve');
        h.notifications!.refuseNextFor(req.orderNo, 1);
        const order = await authorize(req);
        if (order.outcome.status === 'requires_action') await h.payerApproves(req.orderNo, order.outcome);
        expectSucceededExactly(await settle(order), req);
        const deliveries = await payments(req.orderNo, 2);
        expect(isTwoHundred(deliveries[0]!.replied.status)).toBe(false);
        expect(deliveries.some((d) => isTwoHundred(d.replied.status))).toBe(true);
        expect(new Set(deliveries.map((d) => d.notification.notificationId)).size).toBe(1);
      });
    });

    describe('(j) provider misbehaviour is an outcome, not an exception', () => {
      it('every operation against a provider that does not answer returns an unknown outcome', async () => {
        expect(h.unreachableAdapter !== undefined, 'the harness provides an adapter wired to a provider that does not answer').toBe(true);
        const adapter = h.unreachableAdapter!();
        const req = request('approve');
        const authorized = await adapter.authorize(req);
        // A channel that makes no call on authorize (a signed form for the browser) may hand out its action.
        expect(['processing', 'requires_action'], show(authorized)).toContain(authorized.status);
        const ref = refOf(req, authorized.reference);
        expect((await adapter.query(ref)).status).toBe('processing');
        expect((await adapter.cancel(ref)).status).toBe('processing');
        const refundReq = { ...ref, refundNo: h.newOrderNo(), refundAmount: 1n };
        expect((await adapter.refund(refundReq)).status).toBe('processing');
        if (adapter.queryRefund !== undefined) expect((await adapter.queryRefund(refundReq)).status).toBe('processing');
        const capture = await adapter.capture({ ...ref, amountToCapture: req.amount });
        // Without manual capture the channel refuses by itself; with it, it cannot know.
        expect(capture.status).toBe(adapter.capabilities.manualCapture ? 'processing' : 'failed');
      });

      const silent = traits.notifies === true ? undefined : traits.notifies;
      skipOr(silent)(titled('a notification that is not one at all is rejected, not thrown', silent), async () => {
        const verdict = await h.adapter.parseNotification!({ method: 'POST', path: '/hooks/x', headers: { 'content-type': 'application/json' }, rawBody: Buffer.from('{"hello":') });
        expect(verdict.ok).toBe(false);
        if (!verdict.ok) expect(isTwoHundred(verdict.reply.status)).toBe(false);
      });
    });
  });
}

/** An order number of `length` letters and digits (every provider here accepts 8–32 of them). */
export function contractOrderNo(prefix = 'ct', length = 24): string {
  return `${prefix}${randomToken(length - prefix.length)}`;
}
