/**
 * The channel interface. A channel adapter translates a neutral request into a provider's wire format
 * and the provider's answer into a ChannelOutcome. It owns no tables and decides nothing: "unknown"
 * is a first-class outcome (`processing`), never a guess.
 */
import type { Secret } from '../kernel/index.ts';

export interface ChannelCapabilities {
  readonly manualCapture: boolean;
  readonly partialCapture: boolean;
  readonly refund: boolean;
  readonly partialRefund: boolean;
  readonly cancel: boolean;
  readonly query: boolean;
}

/** What a payment method looks like to a channel. Card numbers arrive only as Secret values. */
export type ChannelPaymentMethod =
  | {
      readonly type: 'card';
      readonly number: Secret<string>;
      readonly expMonth: number;
      readonly expYear: number;
      readonly cvc: Secret<string> | undefined;
      readonly brand: string;
    }
  | { readonly type: string };

export interface AuthorizeRequest {
  /** Our order number for this attempt; the channel's idempotency key. */
  readonly orderNo: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly capture: 'automatic' | 'manual';
  readonly paymentMethod: ChannelPaymentMethod;
  readonly description: string | undefined;
  /** Where the payer comes back after a redirect (3-D Secure, wallet pages); none: the channel shows its own end page. */
  readonly returnUrl: string | undefined;
  readonly livemode: boolean;
}

export interface OrderRef {
  readonly orderNo: string;
  readonly reference: string | undefined;
  readonly amount: bigint;
  readonly currency: string;
}

export interface CaptureRequest extends OrderRef {
  readonly amountToCapture: bigint;
}

export interface RefundRequest extends OrderRef {
  readonly refundNo: string;
  readonly refundAmount: bigint;
}

export type NextAction =
  | { readonly type: 'redirect_to_url'; readonly url: string }
  | { readonly type: 'display_qr_code'; readonly data: string; readonly imageUrl?: string };

/** A decline code in Stripe's vocabulary (card_declined with decline_code, expired_card, …). */
export interface ChannelFailure {
  readonly code: 'card_declined' | 'expired_card' | 'incorrect_cvc' | 'incorrect_number' | 'processing_error' | 'payment_intent_authentication_failure';
  readonly declineCode: string | undefined;
  readonly message: string;
}

export type ChannelOutcome =
  | { readonly status: 'succeeded'; readonly reference: string; readonly amount: bigint; readonly currency: string }
  | { readonly status: 'requires_capture'; readonly reference: string; readonly amount: bigint; readonly currency: string }
  | { readonly status: 'requires_action'; readonly reference: string; readonly action: NextAction }
  /** Unknown or not yet final: timeouts, 5xx, unverifiable answers. Resolved later by query or notification. */
  | { readonly status: 'processing'; readonly reference: string | undefined; readonly reason: string }
  | { readonly status: 'failed'; readonly reference: string | undefined; readonly failure: ChannelFailure }
  | { readonly status: 'canceled'; readonly reference: string | undefined };

export type OperationOutcome =
  | { readonly status: 'succeeded'; readonly reference: string }
  | { readonly status: 'processing'; readonly reason: string }
  | { readonly status: 'failed'; readonly message: string };

export interface ChannelAdapter {
  readonly id: string;
  readonly displayName: string;
  readonly paymentMethodTypes: readonly string[];
  /** Test mode, live mode, or both. An emulator serves test mode only. */
  readonly modes: readonly ('test' | 'live')[];
  readonly capabilities: ChannelCapabilities;
  authorize(request: AuthorizeRequest): Promise<ChannelOutcome>;
  /** Asks the channel what became of an order whose outcome we do not know. */
  query(order: OrderRef): Promise<ChannelOutcome>;
  capture(request: CaptureRequest): Promise<OperationOutcome>;
  /** Voids an authorization or closes an unpaid order at the channel. */
  cancel(order: OrderRef): Promise<OperationOutcome>;
  refund(request: RefundRequest): Promise<OperationOutcome>;
}
