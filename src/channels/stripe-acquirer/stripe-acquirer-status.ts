/**
 * Exhaustive maps of the acquirer's PaymentIntent and Refund statuses and of Stripe's card error codes
 * into Fenpay's vocabulary. The Record types make the compiler hold every documented value; a value
 * outside them is unknown, and unknown is processing: never a success, never a failure.
 */
import type { ChannelFailure } from '../channel.ts';

export const paymentIntentStatuses = [
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
  'processing',
  'requires_capture',
  'canceled',
  'succeeded',
] as const;
export type PaymentIntentStatus = (typeof paymentIntentStatuses)[number];

/**
 * What each status means for our attempt. `requires_payment_method` is two things: a confirmation
 * that failed (it carries `last_payment_error`) or a PaymentIntent never confirmed at all (ours was
 * created, the confirmation never arrived): only the first is a failure.
 */
export const paymentIntentMeanings: Readonly<Record<PaymentIntentStatus, 'succeeded' | 'requires_capture' | 'requires_action' | 'processing' | 'failed_or_unconfirmed' | 'unconfirmed' | 'canceled'>> = {
  requires_payment_method: 'failed_or_unconfirmed',
  // Has a payment method but was never confirmed: nothing was charged, and a confirmation may still be on its way.
  requires_confirmation: 'unconfirmed',
  requires_action: 'requires_action',
  processing: 'processing',
  requires_capture: 'requires_capture',
  canceled: 'canceled',
  succeeded: 'succeeded',
};

export function isKnownPaymentIntentStatus(status: string): status is PaymentIntentStatus {
  return (paymentIntentStatuses as readonly string[]).includes(status);
}

export const refundStatuses = ['pending', 'requires_action', 'succeeded', 'failed', 'canceled'] as const;
export type RefundStatus = (typeof refundStatuses)[number];

export const refundMeanings: Readonly<Record<RefundStatus, 'succeeded' | 'processing' | 'failed'>> = {
  succeeded: 'succeeded',
  pending: 'processing',
  // Some refund methods need the customer to act (bank details); for cards it does not happen, and it is not final.
  requires_action: 'processing',
  failed: 'failed',
  canceled: 'failed',
};

export function isKnownRefundStatus(status: string): status is RefundStatus {
  return (refundStatuses as readonly string[]).includes(status);
}

/** Stripe's card error codes (https://docs.stripe.com/error-codes) folded into the six Fenpay names. */
export const cardErrorCodes: Readonly<Record<string, ChannelFailure['code']>> = {
  card_declined: 'card_declined',
  expired_card: 'expired_card',
  incorrect_cvc: 'incorrect_cvc',
  invalid_cvc: 'incorrect_cvc',
  incorrect_number: 'incorrect_number',
  invalid_number: 'incorrect_number',
  processing_error: 'processing_error',
  payment_intent_authentication_failure: 'payment_intent_authentication_failure',
  // Declines without a Fenpay name of their own: card_declined, with Stripe's code kept as the decline code.
  invalid_expiry_month: 'card_declined',
  invalid_expiry_year: 'card_declined',
  authentication_required: 'card_declined',
  card_decline_rate_limit_exceeded: 'card_declined',
  insufficient_funds: 'card_declined',
  incorrect_zip: 'card_declined',
};

/** Payer-facing messages, ours rather than the acquirer's: its text is not ours to show or trust. */
export const declineMessages: Readonly<Record<string, string>> = {
  generic_decline: 'Your card was declined.',
  insufficient_funds: 'Your card has insufficient funds.',
  lost_card: 'Your card was declined.',
  stolen_card: 'Your card was declined.',
  expired_card: 'Your card has expired.',
  incorrect_cvc: "Your card's security code is incorrect.",
  invalid_cvc: "Your card's security code is invalid.",
  incorrect_number: 'Your card number is incorrect.',
  invalid_number: 'Your card number is invalid.',
  processing_error: 'An error occurred while processing your card. Try again in a little bit.',
  invalid_expiry_month: "Your card's expiration month is invalid.",
  invalid_expiry_year: "Your card's expiration year is invalid.",
  authentication_required: 'Your card was declined. This transaction requires authentication.',
  card_decline_rate_limit_exceeded: 'Your card was declined too many times. Try again later.',
  payment_intent_authentication_failure:
    'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
};

export const genericDeclineMessage = 'Your card was declined.';
