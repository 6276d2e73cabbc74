/**
 * Which test card does what. Stripe's test numbers behave as in Stripe test mode (docs/sandbox-cards.md),
 * plus one Fenpay card whose answer never comes. Pure: the card and the time in, a scenario out.
 */
import { luhnValid } from '../../kernel/index.ts';
import type { SandboxDeclineReason } from './wire.ts';

/**
 * Fenpay's "answer never comes" card (not a Stripe number; "504" as in Gateway Timeout). The
 * acquirer approves it but drops the answer; `query` says pending until the settle delay has passed.
 */
export const sandboxTimeoutCardNumber = '4000000000005043';

export type CardScenario =
  | { readonly kind: 'approve' }
  | { readonly kind: 'decline'; readonly reason: SandboxDeclineReason }
  | { readonly kind: 'challenge'; readonly afterChallenge: 'approve' | 'decline' }
  | { readonly kind: 'no_answer' };

const decline = (reason: SandboxDeclineReason): CardScenario => ({ kind: 'decline', reason });

/** Numbers with a behaviour of their own; every other Luhn-valid number is approved. */
export const sandboxTestCards: ReadonlyMap<string, CardScenario> = new Map<string, CardScenario>([
  ['4000000000000002', decline('generic_decline')],
  ['4000000000009995', decline('insufficient_funds')],
  ['4000000000009987', decline('lost_card')],
  ['4000000000009979', decline('stolen_card')],
  ['4000000000000069', decline('expired_card')],
  ['4000000000000127', decline('incorrect_cvc')],
  ['4000000000000119', decline('processing_error')],
  ['4000002500003155', { kind: 'challenge', afterChallenge: 'approve' }],
  ['4000002760003184', { kind: 'challenge', afterChallenge: 'approve' }],
  ['4000008400001629', { kind: 'challenge', afterChallenge: 'decline' }],
  [sandboxTimeoutCardNumber, { kind: 'no_answer' }],
]);

/** Years beyond this many from now are not a real card's expiry. */
const expiryYearsAheadMax = 50;

/**
 * Checks in the order an acquirer would: a number that cannot be a card, then an impossible or past
 * expiry (a card is valid through the last day of its expiry month, UTC), then the test-card table.
 */
export function scenarioFor(card: { digits: string | undefined; expMonth: number; expYear: number }, now: Date): CardScenario {
  if (card.digits === undefined || !luhnValid(card.digits)) return decline('incorrect_number');
  const { expMonth } = card;
  if (!Number.isInteger(expMonth) || expMonth < 1 || expMonth > 12) return decline('invalid_expiry_month');
  // Two-digit years mean 20xx, as printed on cards.
  const expYear = Number.isInteger(card.expYear) && card.expYear >= 0 && card.expYear < 100 ? 2000 + card.expYear : card.expYear;
  const year = now.getUTCFullYear();
  if (!Number.isInteger(expYear) || expYear > year + expiryYearsAheadMax || expYear < 1000) return decline('invalid_expiry_year');
  if (expYear < year || (expYear === year && expMonth < now.getUTCMonth() + 1)) return decline('expired_card');
  return sandboxTestCards.get(card.digits) ?? { kind: 'approve' };
}
