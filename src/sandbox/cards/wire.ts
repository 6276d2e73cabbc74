/**
 * What the sandbox acquirer accepts and answers: its "wire" format. The channel adapter treats these
 * answers as a provider's and checks them (statuses arrive as plain strings, which it maps exhaustively).
 */
import type { Secret } from '../../kernel/index.ts';

/** Every status an answer can carry. */
export const sandboxCardStatuses = [
  /** Approved and captured (automatic capture), or captured later. */
  'captured',
  /** Approved, funds held, waiting for capture (manual capture). */
  'authorized',
  'declined',
  /** The issuer wants 3-D Secure: send the payer to `challengeUrl`. */
  'challenge_required',
  /** Decided at the acquirer but not reported yet (the "answer never comes" card before it settles). */
  'pending',
  'voided',
  /** The acquirer has no record of the order. */
  'not_found',
] as const;
export type SandboxCardStatus = (typeof sandboxCardStatuses)[number];

/** Why a card was declined, in Stripe's decline vocabulary where Stripe has a word for it. */
export const sandboxDeclineReasons = [
  'generic_decline',
  'insufficient_funds',
  'lost_card',
  'stolen_card',
  'expired_card',
  'incorrect_cvc',
  'processing_error',
  'incorrect_number',
  'invalid_expiry_month',
  'invalid_expiry_year',
  /** The payer failed (or the issuer refused) 3-D Secure authentication. */
  'authentication_failed',
] as const;
export type SandboxDeclineReason = (typeof sandboxDeclineReasons)[number];

export interface SandboxCardAuthorizeRequest {
  /** The caller's order number; the acquirer's idempotency key for orders it remembers. */
  readonly orderNo: string;
  /** Minor units. */
  readonly amount: bigint;
  readonly currency: string;
  readonly captureMode: 'automatic' | 'manual';
  readonly card: {
    readonly number: Secret<string>;
    readonly expMonth: number;
    readonly expYear: number;
    readonly cvc: Secret<string> | undefined;
  };
  /** Where the 3-D Secure page sends the payer when done; without one it shows a "done" page. */
  readonly returnUrl: string | undefined;
}

/**
 * Identifies an order in later calls. The acquirer looks orders up by number; the reference, amount
 * and currency let it recognise an authorization it answered at once and kept no row for (as acquirers
 * that take the original transaction's id and amount on follow-up messages do), and let it refuse
 * follow-ups whose amount or currency do not match the order.
 */
export interface SandboxCardOrderRef {
  readonly orderNo: string;
  readonly reference: string | undefined;
  readonly amount: bigint;
  readonly currency: string;
}

export interface SandboxCardAnswer {
  readonly orderNo: string;
  /** The acquirer's reference for this authorization (`sca_…`); undefined when not found. */
  readonly reference: string | undefined;
  /** One of `sandboxCardStatuses`; a plain string because an answer is checked, never trusted. */
  readonly status: string;
  /** The authorized amount and its currency, echoed for the caller's integrity check; undefined when not found. */
  readonly amount: bigint | undefined;
  readonly currency: string | undefined;
  readonly amountCaptured: bigint;
  readonly amountRefunded: bigint;
  /** One of `sandboxDeclineReasons` when declined. */
  readonly declineReason: string | undefined;
  readonly message: string | undefined;
  /** Present with `challenge_required`. */
  readonly challengeUrl: string | undefined;
}

export interface SandboxCardCaptureRequest extends SandboxCardOrderRef {
  readonly amountToCapture: bigint;
}

export interface SandboxCardRefundRequest extends SandboxCardOrderRef {
  /** The caller's refund number; refunding twice with one number refunds once. */
  readonly refundNo: string;
  readonly refundAmount: bigint;
}

export interface SandboxCardOperationAnswer {
  /** `accepted` or `rejected`. */
  readonly result: string;
  /** The acquirer's reference for the capture, void or refund (`scc_`, `scv_`, `scr_`), when accepted. */
  readonly reference: string | undefined;
  /** Why it was rejected: `order_not_found`, `invalid_state`, `amount_invalid`, `amount_exceeds_authorized`, `amount_exceeds_captured`, `order_mismatch`. */
  readonly reason: string | undefined;
  readonly message: string;
}

/**
 * The acquirer never answered (the "answer never comes" card). Like a client-side timeout, it says
 * nothing about the outcome: the authorization may well have been approved.
 */
export class SandboxCardTimeoutError extends Error {
  override name = 'SandboxCardTimeoutError';
  readonly code = 'ETIMEDOUT';
  readonly orderNo: string;
  constructor(orderNo: string) {
    super(`the sandbox acquirer did not answer the authorization of order ${orderNo}`);
    this.orderNo = orderNo;
  }
}
