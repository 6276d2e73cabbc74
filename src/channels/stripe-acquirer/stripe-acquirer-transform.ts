/**
 * Pure translation: Fenpay's neutral requests into Stripe API parameters, and the acquirer's answers
 * (objects or errors) into ChannelOutcomes. What an answer does not prove stays processing.
 *
 * Errors fall in three kinds, and the kind, not the SDK class, decides:
 * - declined: a 402 card error, an explicit "no" from the card side;
 * - refused: a 400/401/403/404, the acquirer understood the request and did not act on it;
 * - unknown: everything else (no answer, timeouts, 5xx, 409 "same key still in flight", 429,
 *   idempotency_error, anything unreadable) — the acquirer may have acted, so we do not guess.
 */
import Stripe from 'stripe';
import { assertNever } from '../../kernel/index.ts';
import type { ChannelFailure, ChannelOutcome, ChannelPaymentMethod, OperationOutcome } from '../channel.ts';
import {
  cardErrorCodes,
  declineMessages,
  genericDeclineMessage,
  isKnownPaymentIntentStatus,
  isKnownRefundStatus,
  paymentIntentMeanings,
  refundMeanings,
} from './stripe-acquirer-status.ts';
import { metadataKeys, readPaymentIntent, toStripeAmount, type WirePaymentError, type WirePaymentIntent, type WireRefund } from './stripe-acquirer-wire.ts';
import type { Secret } from '../../kernel/index.ts';

export type CardPaymentMethod = Extract<ChannelPaymentMethod, { readonly number: Secret<string> }>;

/** Apple Pay and Google Pay reach us as cards (the wallet hands over a card, or a network token, as a card). */
export function isCardPaymentMethod(method: ChannelPaymentMethod): method is CardPaymentMethod {
  return method.type === 'card' && 'number' in method;
}

export type AcquirerError =
  | { readonly kind: 'declined'; readonly failure: ChannelFailure; readonly paymentIntent: WirePaymentIntent | undefined }
  | { readonly kind: 'refused'; readonly reason: string; readonly message: string; readonly paymentIntent: WirePaymentIntent | undefined }
  | { readonly kind: 'unknown'; readonly reason: string };

/** One call to the acquirer: its answer, or why there is none. */
export type AcquirerCall<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: AcquirerError };

/**
 * Idempotency keys, one per order (or refund) and step, so a retried authorize replays every call it
 * already made instead of charging again. Stripe keeps keys for at least 24 hours.
 */
export const idempotencyKeys = {
  paymentMethod: (orderNo: string) => `fenpay_${orderNo}_payment_method`,
  paymentIntent: (orderNo: string) => `fenpay_${orderNo}_payment_intent`,
  captureMethod: (orderNo: string) => `fenpay_${orderNo}_capture_method`,
  confirm: (orderNo: string) => `fenpay_${orderNo}_confirm`,
  capture: (orderNo: string) => `fenpay_${orderNo}_capture`,
  cancel: (orderNo: string) => `fenpay_${orderNo}_cancel`,
  refund: (refundNo: string) => `fenpay_${refundNo}_refund`,
} as const;

/**
 * The PaymentIntent create parameters: a function of the order alone (number, amount, currency),
 * never of the card, capture mode or return URL. That is what lets `query` replay this exact call with
 * the same Idempotency-Key to learn the PaymentIntent's id when authorize's answer was lost.
 */
export function paymentIntentParams(order: { readonly orderNo: string; readonly amount: bigint; readonly currency: string }): Stripe.PaymentIntentCreateParams {
  return {
    amount: toStripeAmount(order.amount),
    currency: order.currency,
    // Cards only, whatever the account has enabled: the API version stripe-node pins (2026-10-28) has no
    // payment_method_types, and redirect-based methods would make return_url mandatory at confirmation.
    // 3-D Secure is not a redirect-based method: it still redirects when confirm carries a return_url.
    automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    metadata: { [metadataKeys.orderNo]: order.orderNo },
  };
}

export function confirmParams(paymentMethodId: string, returnUrl: string | undefined): Stripe.PaymentIntentConfirmParams {
  return returnUrl === undefined || returnUrl === '' ? { payment_method: paymentMethodId } : { payment_method: paymentMethodId, return_url: returnUrl };
}

export function refundParams(input: { readonly paymentIntentId: string; readonly orderNo: string; readonly refundNo: string; readonly refundAmount: bigint }): Stripe.RefundCreateParams {
  return {
    payment_intent: input.paymentIntentId,
    amount: toStripeAmount(input.refundAmount),
    metadata: { [metadataKeys.refundNo]: input.refundNo, [metadataKeys.orderNo]: input.orderNo },
  };
}

/** A Stripe card error code (and decline code) as a ChannelFailure, with our own payer-facing message. */
export function failureFromError(error: WirePaymentError): ChannelFailure {
  const rawCode = error.code;
  const code = rawCode === undefined ? 'card_declined' : (cardErrorCodes[rawCode] ?? 'card_declined');
  // Keep the most specific reason: the issuer's decline code, or Stripe's code when Fenpay folds it into card_declined.
  const declineCode = error.declineCode ?? (rawCode === undefined || rawCode === 'card_declined' || rawCode === 'payment_intent_authentication_failure' ? undefined : rawCode);
  const message = (declineCode === undefined ? undefined : declineMessages[declineCode]) ?? (rawCode === undefined ? undefined : declineMessages[rawCode]) ?? genericDeclineMessage;
  return { code, declineCode, message };
}

/** Names the error by class, HTTP status and code, never by message: messages can carry what we must not log. */
export function reasonFromError(error: unknown): string {
  if (!(error instanceof Error)) return 'acquirer call failed (non-error thrown)';
  // StripeError subclasses all carry name "Error"; their class name is in `type`.
  const parts: string[] = [error instanceof Stripe.errors.StripeError ? error.type : error.name];
  const { statusCode, code } = error as Error & { statusCode?: unknown; code?: unknown };
  if (typeof statusCode === 'number') parts.push(`HTTP ${statusCode}`);
  if (typeof code === 'string' && code !== '') parts.push(code);
  const cause = error instanceof Stripe.errors.StripeError ? error.detail : error.cause;
  if (cause instanceof Error) {
    const causeCode = (cause as Error & { code?: unknown }).code;
    parts.push(`(${cause.name}${typeof causeCode === 'string' ? ` ${causeCode}` : ''})`);
  }
  return `acquirer call failed: ${parts.join(' ')}`;
}

/** Sorts a thrown error into declined / refused / unknown (see the file header). */
export function classifyError(error: unknown): AcquirerError {
  if (!(error instanceof Stripe.errors.StripeError)) return { kind: 'unknown', reason: reasonFromError(error) };
  const status = error.statusCode;
  const paymentIntent = readPaymentIntent(error.payment_intent);
  if (status === 402 && error instanceof Stripe.errors.StripeCardError) {
    // stripe-node turns a missing decline_code into ''.
    const declineCode = error.decline_code === '' ? undefined : error.decline_code;
    return { kind: 'declined', failure: failureFromError({ type: 'card_error', code: error.code || undefined, declineCode }), paymentIntent };
  }
  const isIdempotencyError = error instanceof Stripe.errors.StripeIdempotencyError || error.rawType === 'idempotency_error';
  if ((status === 400 || status === 401 || status === 403 || status === 404) && !isIdempotencyError && error.code !== 'rate_limit') {
    return { kind: 'refused', reason: reasonFromError(error), message: error.message, paymentIntent };
  }
  return { kind: 'unknown', reason: reasonFromError(error) };
}

function processing(reference: string | undefined, reason: string): ChannelOutcome {
  return { status: 'processing', reference, reason };
}

/** The acquirer's PaymentIntent as an outcome for our order. */
export function outcomeFromPaymentIntent(pi: WirePaymentIntent, orderNo: string): ChannelOutcome {
  const reference = pi.id;
  // A PaymentIntent that is not ours (a wrong reference, a foreign object) proves nothing about our order.
  if (pi.orderNo !== orderNo) return processing(reference, 'the acquirer PaymentIntent does not carry this order number');
  if (!isKnownPaymentIntentStatus(pi.status)) return processing(reference, `unknown acquirer status ${JSON.stringify(pi.status)}`);
  const meaning = paymentIntentMeanings[pi.status];
  switch (meaning) {
    case 'succeeded':
    case 'requires_capture':
      // Echo what the acquirer says it authorized; the flow compares it with what was asked.
      if (pi.amount === undefined || pi.currency === undefined) return processing(reference, `acquirer answered ${pi.status} without amount or currency`);
      return { status: meaning, reference, amount: pi.amount, currency: pi.currency };
    case 'requires_action':
      if (pi.nextActionType === 'redirect_to_url' && pi.redirectUrl !== undefined) {
        return { status: 'requires_action', reference, action: { type: 'redirect_to_url', url: pi.redirectUrl } };
      }
      // use_stripe_sdk (3-D Secure without a return_url) needs Stripe.js in the payer's browser: we cannot hand it on.
      return processing(reference, `acquirer asks for ${pi.nextActionType ?? 'an action'} that is not a redirect`);
    case 'processing':
      return processing(reference, 'the acquirer has not decided yet');
    case 'failed_or_unconfirmed':
      if (pi.lastPaymentError !== undefined) return { status: 'failed', reference, failure: failureFromError(pi.lastPaymentError) };
      return processing(reference, 'the acquirer PaymentIntent has not been confirmed');
    case 'unconfirmed':
      return processing(reference, 'the acquirer PaymentIntent has not been confirmed');
    case 'canceled':
      return { status: 'canceled', reference };
    default:
      return assertNever(meaning, 'unmapped PaymentIntent status');
  }
}

/**
 * A failed authorize step as an outcome. Before the confirmation nothing can have been charged, so a
 * refusal there is a failure; a refusal of the confirmation itself that carries no PaymentIntent says
 * nothing about an earlier confirmation under the same key, so it stays processing.
 */
export function outcomeFromAuthorizeError(error: AcquirerError, input: { readonly orderNo: string; readonly reference: string | undefined; readonly step: 'before_confirm' | 'confirm' }): ChannelOutcome {
  switch (error.kind) {
    case 'declined':
      return { status: 'failed', reference: error.paymentIntent?.id ?? input.reference, failure: error.failure };
    case 'refused':
      if (error.paymentIntent !== undefined) return outcomeFromPaymentIntent(error.paymentIntent, input.orderNo);
      if (input.step === 'before_confirm') {
        return { status: 'failed', reference: input.reference, failure: { code: 'processing_error', declineCode: undefined, message: 'The card acquirer refused the payment request.' } };
      }
      return processing(input.reference, error.reason);
    case 'unknown':
      return processing(input.reference, error.reason);
    default:
      return assertNever(error, 'unclassified acquirer error');
  }
}

function unknownOperation(reason: string): OperationOutcome {
  return { status: 'processing', reason };
}

/** A capture answer: only a succeeded PaymentIntent proves the money was taken. */
export function outcomeFromCapture(pi: WirePaymentIntent): OperationOutcome {
  return pi.status === 'succeeded' ? { status: 'succeeded', reference: pi.id } : unknownOperation(`acquirer answered the capture with ${JSON.stringify(pi.status)}`);
}

export function outcomeFromCaptureError(error: AcquirerError): OperationOutcome {
  switch (error.kind) {
    case 'declined':
      return { status: 'failed', message: error.failure.message };
    case 'refused':
      // Captured already (a capture under another key, a retry after our key expired): the money is taken.
      if (error.paymentIntent?.status === 'succeeded') return { status: 'succeeded', reference: error.paymentIntent.id };
      if (error.paymentIntent?.status === 'processing') return unknownOperation('the acquirer PaymentIntent is still processing');
      return { status: 'failed', message: `The acquirer refused the capture: ${error.message}` };
    case 'unknown':
      return unknownOperation(error.reason);
    default:
      return assertNever(error, 'unclassified acquirer error');
  }
}

/** A cancel answer: a canceled PaymentIntent is a void, whoever canceled it first. */
export function outcomeFromCancel(pi: WirePaymentIntent): OperationOutcome {
  return pi.status === 'canceled' ? { status: 'succeeded', reference: pi.id } : unknownOperation(`acquirer answered the cancel with ${JSON.stringify(pi.status)}`);
}

export function outcomeFromCancelError(error: AcquirerError): OperationOutcome {
  switch (error.kind) {
    case 'declined':
      return { status: 'failed', message: error.failure.message };
    case 'refused': {
      const status = error.paymentIntent?.status;
      if (status === 'canceled' && error.paymentIntent !== undefined) return { status: 'succeeded', reference: error.paymentIntent.id };
      // Not decided yet at the acquirer: it cannot be canceled now, and it may still succeed.
      if (status === 'processing') return unknownOperation('the acquirer PaymentIntent is still processing and cannot be canceled yet');
      if (status === 'succeeded') return { status: 'failed', message: 'The acquirer has already captured this payment; refund it instead.' };
      return { status: 'failed', message: `The acquirer refused the cancel: ${error.message}` };
    }
    case 'unknown':
      return unknownOperation(error.reason);
    default:
      return assertNever(error, 'unclassified acquirer error');
  }
}

export function outcomeFromRefund(refund: WireRefund, input: { readonly refundNo: string; readonly refundAmount: bigint }): OperationOutcome {
  if (refund.refundNo !== input.refundNo) return unknownOperation('the acquirer refund does not carry this refund number');
  if (refund.amount !== input.refundAmount) return unknownOperation('the acquirer refund amount differs from the one asked for');
  if (!isKnownRefundStatus(refund.status)) return unknownOperation(`unknown acquirer refund status ${JSON.stringify(refund.status)}`);
  const meaning = refundMeanings[refund.status];
  switch (meaning) {
    case 'succeeded':
      return { status: 'succeeded', reference: refund.id };
    case 'processing':
      return unknownOperation(`the acquirer refund is ${refund.status}`);
    case 'failed':
      return { status: 'failed', message: `The acquirer refund ${refund.status === 'canceled' ? 'was canceled' : 'failed'}.` };
    default:
      return assertNever(meaning, 'unmapped refund status');
  }
}

export function outcomeFromRefundError(error: AcquirerError): OperationOutcome {
  switch (error.kind) {
    case 'declined':
      return { status: 'failed', message: error.failure.message };
    case 'refused':
      return { status: 'failed', message: `The acquirer refused the refund: ${error.message}` };
    case 'unknown':
      return unknownOperation(error.reason);
    default:
      return assertNever(error, 'unclassified acquirer error');
  }
}
