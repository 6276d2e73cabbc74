/**
 * Exhaustive maps of the sandbox acquirer's statuses and decline reasons into Fenpay's vocabulary.
 * The Record types make the compiler hold every known value; a value outside them is "unknown", and
 * an unknown status is never a success or a failure: it stays processing until a query resolves it.
 */
import type { ChannelFailure, ChannelOutcome } from '../channel.ts';
import { sandboxCardStatuses, sandboxDeclineReasons, type SandboxCardStatus, type SandboxDeclineReason } from '../../sandbox/cards/index.ts';

export const statusOutcomes: Readonly<Record<SandboxCardStatus, ChannelOutcome['status']>> = {
  captured: 'succeeded',
  authorized: 'requires_capture',
  declined: 'failed',
  challenge_required: 'requires_action',
  // Decided at the acquirer but not reported: unknown to us until it settles.
  pending: 'processing',
  voided: 'canceled',
  // "No record" is not a decline: the authorization may be in flight; expiry closes it if it never appears.
  not_found: 'processing',
};

/** Stripe's error code, decline code and message for each decline reason. */
export const declineFailures: Readonly<Record<SandboxDeclineReason, ChannelFailure>> = {
  generic_decline: { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
  insufficient_funds: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  lost_card: { code: 'card_declined', declineCode: 'lost_card', message: 'Your card was declined.' },
  stolen_card: { code: 'card_declined', declineCode: 'stolen_card', message: 'Your card was declined.' },
  expired_card: { code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.' },
  incorrect_cvc: { code: 'incorrect_cvc', declineCode: 'incorrect_cvc', message: "Your card's security code is incorrect." },
  processing_error: { code: 'processing_error', declineCode: 'processing_error', message: 'An error occurred while processing your card. Try again in a little bit.' },
  incorrect_number: { code: 'incorrect_number', declineCode: 'incorrect_number', message: 'Your card number is incorrect.' },
  invalid_expiry_month: { code: 'card_declined', declineCode: 'invalid_expiry_month', message: "Your card's expiration month is invalid." },
  invalid_expiry_year: { code: 'card_declined', declineCode: 'invalid_expiry_year', message: "Your card's expiration year is invalid." },
  authentication_failed: {
    code: 'payment_intent_authentication_failure',
    declineCode: undefined,
    message: 'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
  },
};

/** An explicit decline whose reason we do not know is still a decline. */
export const unknownDeclineFailure: ChannelFailure = { code: 'card_declined', declineCode: undefined, message: 'Your card was declined.' };

export function isKnownStatus(status: string): status is SandboxCardStatus {
  return (sandboxCardStatuses as readonly string[]).includes(status);
}

export function isKnownDeclineReason(reason: string): reason is SandboxDeclineReason {
  return (sandboxDeclineReasons as readonly string[]).includes(reason);
}
