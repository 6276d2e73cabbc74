/**
 * The international card acquirer channel: Stripe's API through the official `stripe` package, with
 * the merchant's own Stripe-compatible secret key (api.stripe.com, or any server that speaks it — a
 * second Fenpay, whose /v1 is Stripe-compatible, in the tests). It translates and decides nothing:
 * declines and "not known yet" come back as outcomes; only bugs (AssertionError) are thrown.
 *
 * Card wallets: Apple Pay and Google Pay payments reach this channel as `card` payment methods (the
 * wallet hands over the card, or its network token, with an expiry). There is no separate wallet
 * type here; anything but `card` is a routing bug.
 *
 * Authorize is four idempotent calls, each with an Idempotency-Key derived from the order number:
 *   1. POST /v1/payment_methods           the card (the acquirer account must be allowed raw card data)
 *   2. POST /v1/payment_intents           amount, currency, metadata.fenpay_order_no — nothing else
 *   3. POST /v1/payment_intents/:id       capture_method=manual (manual capture only)
 *   4. POST /v1/payment_intents/:id/confirm  payment_method, return_url
 * Step 2 depends on the order alone, so `query` can replay it byte for byte when authorize's answer
 * was lost and get back the PaymentIntent's id (Idempotency-Key replays return the original answer).
 * A retried authorize replays all four and cannot charge twice.
 */
import { assert } from '../../kernel/index.ts';
import type { AuthorizeRequest, ChannelAdapter, ChannelOutcome, OperationOutcome, OrderRef, RefundRequest } from '../channel.ts';
import { checkCredentials, type StripeAcquirerCredentials } from './stripe-acquirer-credentials.ts';
import { createStripeAcquirerClient, type StripeAcquirerClient } from './stripe-acquirer-client.ts';
import {
  confirmParams,
  idempotencyKeys,
  isCardPaymentMethod,
  outcomeFromAuthorizeError,
  outcomeFromCancel,
  outcomeFromCancelError,
  outcomeFromCapture,
  outcomeFromCaptureError,
  outcomeFromPaymentIntent,
  outcomeFromRefund,
  outcomeFromRefundError,
  paymentIntentParams,
  refundParams,
  type AcquirerCall,
} from './stripe-acquirer-transform.ts';
import { toStripeAmount, type WirePaymentIntent } from './stripe-acquirer-wire.ts';

export type { StripeAcquirerCredentials } from './stripe-acquirer-credentials.ts';

export interface StripeAcquirerChannelOptions {
  /** Default `stripe_acquirer`; give each acquirer account its own id when there are several. */
  readonly id?: string;
  readonly credentials: StripeAcquirerCredentials;
  /** Exactly the key's mode: ['test'] for sk_test_…, ['live'] for sk_live_…. */
  readonly modes: ('test' | 'live')[];
  /** Per HTTP attempt (stripe-node retries once); past it the outcome is processing. Default 30 s. */
  readonly timeoutMs?: number;
}

/** How many of one PaymentIntent's refunds queryRefund reads before giving up (processing). */
const refundsListedMax = 1_000;

export function createStripeAcquirerChannel(options: StripeAcquirerChannelOptions): ChannelAdapter {
  const mode = checkCredentials(options.credentials, options.modes);
  const client: StripeAcquirerClient = createStripeAcquirerClient({ credentials: options.credentials, timeoutMs: options.timeoutMs ?? 30_000, maxNetworkRetries: 1 });

  /**
   * The acquirer's PaymentIntent for an order, as it is now: by reference, or — when authorize never
   * learned the reference — by replaying step 2 under its Idempotency-Key. If step 2 never reached the
   * acquirer, the replay creates an unconfirmed PaymentIntent: no money moves, a late authorize retry
   * replays onto it, and a cancel closes it.
   */
  async function findPaymentIntent(order: OrderRef): Promise<AcquirerCall<WirePaymentIntent>> {
    if (order.reference !== undefined) return client.retrievePaymentIntent(order.reference);
    const created = await client.createPaymentIntent(paymentIntentParams(order), idempotencyKeys.paymentIntent(order.orderNo));
    // The replay answers with the PaymentIntent as it was created; what became of it is a retrieve away.
    return created.ok ? client.retrievePaymentIntent(created.value.id) : created;
  }

  async function authorize(request: AuthorizeRequest): Promise<ChannelOutcome> {
    const method = request.paymentMethod;
    assert(isCardPaymentMethod(method), `the stripe_acquirer channel cannot authorize a ${method.type} payment method`);
    // A live payment sent to a test key would be approved for free: a routing bug, not an outcome.
    assert((request.livemode ? 'live' : 'test') === mode, `the stripe_acquirer channel serves ${mode} mode only`);
    assert(request.amount > 0n, 'an authorization amount is positive');
    const { orderNo } = request;

    const paymentMethod = await client.createPaymentMethod(method, idempotencyKeys.paymentMethod(orderNo));
    if (!paymentMethod.ok) return outcomeFromAuthorizeError(paymentMethod.error, { orderNo, reference: undefined, step: 'before_confirm' });

    const created = await client.createPaymentIntent(paymentIntentParams(request), idempotencyKeys.paymentIntent(orderNo));
    if (!created.ok) return outcomeFromAuthorizeError(created.error, { orderNo, reference: undefined, step: 'before_confirm' });
    const reference = created.value.id;

    if (request.capture === 'manual') {
      const updated = await client.updatePaymentIntent(reference, { capture_method: 'manual' }, idempotencyKeys.captureMethod(orderNo));
      // Unconfirmed either way, but a replay on an old PaymentIntent may be refused after its confirmation: not a failure.
      if (!updated.ok) return outcomeFromAuthorizeError(updated.error, { orderNo, reference, step: 'confirm' });
    }

    const confirmed = await client.confirmPaymentIntent(reference, confirmParams(paymentMethod.value, request.returnUrl), idempotencyKeys.confirm(orderNo));
    if (!confirmed.ok) return outcomeFromAuthorizeError(confirmed.error, { orderNo, reference, step: 'confirm' });
    return outcomeFromPaymentIntent(confirmed.value, orderNo);
  }

  async function query(order: OrderRef): Promise<ChannelOutcome> {
    const found = await findPaymentIntent(order);
    if (!found.ok) {
      // Asking is not acting: a refused query (404 for a reference the acquirer does not know) is still unknown.
      return { status: 'processing', reference: order.reference, reason: found.error.kind === 'unknown' ? found.error.reason : `query refused: ${found.error.kind}` };
    }
    return outcomeFromPaymentIntent(found.value, order.orderNo);
  }

  async function capture(request: OrderRef & { readonly amountToCapture: bigint }): Promise<OperationOutcome> {
    assert(request.amountToCapture > 0n && request.amountToCapture <= request.amount, 'a capture is positive and at most the authorized amount');
    const found = await referenceOf(request);
    if (!found.ok) return found.outcome;
    const captured = await client.capturePaymentIntent(found.id, toStripeAmount(request.amountToCapture), idempotencyKeys.capture(request.orderNo));
    return captured.ok ? outcomeFromCapture(captured.value) : outcomeFromCaptureError(captured.error);
  }

  async function cancel(order: OrderRef): Promise<OperationOutcome> {
    const found = await referenceOf(order);
    if (!found.ok) return found.outcome;
    const canceled = await client.cancelPaymentIntent(found.id, idempotencyKeys.cancel(order.orderNo));
    return canceled.ok ? outcomeFromCancel(canceled.value) : outcomeFromCancelError(canceled.error);
  }

  async function refund(request: RefundRequest): Promise<OperationOutcome> {
    assert(request.refundAmount > 0n, 'a refund amount is positive');
    const found = await referenceOf(request);
    if (!found.ok) return found.outcome;
    const params = refundParams({ paymentIntentId: found.id, orderNo: request.orderNo, refundNo: request.refundNo, refundAmount: request.refundAmount });
    const created = await client.createRefund(params, idempotencyKeys.refund(request.refundNo));
    return created.ok ? outcomeFromRefund(created.value, request) : outcomeFromRefundError(created.error);
  }

  /**
   * Finds the refund by the refund number we wrote into its metadata. It never creates one: a refund
   * the acquirer does not have is processing, and re-sending `refund` (same Idempotency-Key) is the
   * safe way to make sure it exists.
   */
  async function queryRefund(request: RefundRequest): Promise<OperationOutcome> {
    const found = await referenceOf(request);
    if (!found.ok) return found.outcome;
    const listed = await client.listRefunds(found.id, refundsListedMax);
    if (!listed.ok) return { status: 'processing', reason: listed.error.kind === 'unknown' ? listed.error.reason : `refund list refused: ${listed.error.kind}` };
    const match = listed.value.find((candidate) => candidate.refundNo === request.refundNo);
    return match === undefined ? { status: 'processing', reason: 'the acquirer has no refund with this refund number' } : outcomeFromRefund(match, request);
  }

  /** The PaymentIntent id an operation acts on; a lookup that fails leaves the operation unknown. */
  async function referenceOf(order: OrderRef): Promise<{ readonly ok: true; readonly id: string } | { readonly ok: false; readonly outcome: OperationOutcome }> {
    if (order.reference !== undefined) return { ok: true, id: order.reference };
    const found = await findPaymentIntent(order);
    if (!found.ok) return { ok: false, outcome: { status: 'processing', reason: found.error.kind === 'unknown' ? found.error.reason : `PaymentIntent lookup refused: ${found.error.kind}` } };
    return { ok: true, id: found.value.id };
  }

  return {
    id: options.id ?? 'stripe_acquirer',
    displayName: 'Card acquirer (Stripe API)',
    paymentMethodTypes: ['card'],
    modes: [mode],
    capabilities: { manualCapture: true, partialCapture: true, refund: true, partialRefund: true, cancel: true, query: true },
    authorize,
    query,
    capture,
    cancel,
    refund,
    queryRefund,
  };
}
