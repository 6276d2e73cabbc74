/**
 * The acquirer's objects as we read them. stripe-node hands back typed objects, but the types describe
 * what Stripe promises, not what a given server (Stripe, a Fenpay acting as acquirer, a proxy) sent:
 * every field is looked at, and an object missing what we need is `undefined`, never a guess.
 */

type Body = Readonly<Record<string, unknown>>;

function isBody(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(body: Body, key: string): string | undefined {
  const value = body[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Stripe amounts are JSON integers in minor units; anything else (a float, a string, beyond 2^53) is unreadable. */
export function readAmount(value: unknown): bigint | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : undefined;
}

/** Minor units as the JSON integer stripe-node sends. Amounts above 2^53 are a bug long before they get here. */
export function toStripeAmount(amount: bigint): number {
  if (amount <= 0n || amount > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('a Stripe amount is a positive safe integer');
  return Number(amount);
}

export interface WirePaymentError {
  readonly type: string | undefined;
  readonly code: string | undefined;
  readonly declineCode: string | undefined;
}

export interface WirePaymentIntent {
  readonly id: string;
  readonly status: string;
  readonly amount: bigint | undefined;
  readonly amountReceived: bigint | undefined;
  readonly currency: string | undefined;
  /** `next_action.type` (redirect_to_url, use_stripe_sdk, …). */
  readonly nextActionType: string | undefined;
  /** `next_action.redirect_to_url.url`, when that is the action. */
  readonly redirectUrl: string | undefined;
  readonly lastPaymentError: WirePaymentError | undefined;
  readonly orderNo: string | undefined;
}

export function readPaymentError(value: unknown): WirePaymentError | undefined {
  if (!isBody(value)) return undefined;
  return { type: text(value, 'type'), code: text(value, 'code'), declineCode: text(value, 'decline_code') };
}

function metadataValue(body: Body, key: string): string | undefined {
  const metadata = body.metadata;
  return isBody(metadata) ? text(metadata, key) : undefined;
}

export function readPaymentIntent(value: unknown): WirePaymentIntent | undefined {
  if (!isBody(value)) return undefined;
  const id = text(value, 'id');
  const status = text(value, 'status');
  if (id === undefined || status === undefined) return undefined;
  const nextAction = isBody(value.next_action) ? value.next_action : undefined;
  const redirect = nextAction !== undefined && isBody(nextAction.redirect_to_url) ? nextAction.redirect_to_url : undefined;
  return {
    id,
    status,
    amount: readAmount(value.amount),
    amountReceived: readAmount(value.amount_received),
    currency: text(value, 'currency'),
    nextActionType: nextAction === undefined ? undefined : text(nextAction, 'type'),
    redirectUrl: redirect === undefined ? undefined : text(redirect, 'url'),
    lastPaymentError: readPaymentError(value.last_payment_error),
    orderNo: metadataValue(value, metadataKeys.orderNo),
  };
}

export interface WireRefund {
  readonly id: string;
  readonly status: string;
  readonly amount: bigint | undefined;
  readonly currency: string | undefined;
  readonly paymentIntent: string | undefined;
  readonly refundNo: string | undefined;
}

export function readRefund(value: unknown): WireRefund | undefined {
  if (!isBody(value)) return undefined;
  const id = text(value, 'id');
  const status = text(value, 'status');
  if (id === undefined || status === undefined) return undefined;
  const paymentIntent = value.payment_intent;
  return {
    id,
    status,
    amount: readAmount(value.amount),
    currency: text(value, 'currency'),
    // Expanded or not, the id is what we compare.
    paymentIntent: typeof paymentIntent === 'string' ? paymentIntent : isBody(paymentIntent) ? text(paymentIntent, 'id') : undefined,
    refundNo: metadataValue(value, metadataKeys.refundNo),
  };
}

export function readPaymentMethodId(value: unknown): string | undefined {
  return isBody(value) ? text(value, 'id') : undefined;
}

/** What we write into the acquirer's metadata, so an operator (and queryRefund) can find our objects there. */
export const metadataKeys = { orderNo: 'fenpay_order_no', refundNo: 'fenpay_refund_no' } as const;
