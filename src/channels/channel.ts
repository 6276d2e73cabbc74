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
  /** How the payer pays with a wallet method (QR on a desktop, redirect on a phone, an app SDK …); card channels ignore it. */
  readonly flow?: PaymentFlow | undefined;
  /** Where the channel sends its asynchronous notification for this order (channels that notify). */
  readonly notifyUrl?: string | undefined;
  /** Short text the payer sees at the provider (Alipay `subject`, WeChat `description`). */
  readonly subject?: string | undefined;
  /** The payer, when the flow needs it: WeChat JSAPI needs the openid, H5 flows the client IP. */
  readonly payer?: { readonly clientIp?: string | undefined; readonly openId?: string | undefined } | undefined;
  /** The provider closes the order by itself after this moment (Alipay `time_expire`, WeChat `time_expire`). */
  readonly expiresAt?: Date | undefined;
}

/** How a wallet payment is presented: a QR to scan, a desktop page, a mobile (WAP/H5) page, an app SDK, an in-app browser (JSAPI). */
export type PaymentFlow = 'qr' | 'page' | 'wap' | 'app' | 'jsapi';

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
  /**
   * When the refund was first requested, as stored with it. A channel that knows a transaction by the
   * moment it was sent (UnionPay's orderId + txnTime) sends every retry, and queries, under this
   * moment, so a retry or a query after a restart still names the same transaction.
   */
  readonly requestedAt?: Date;
}

export type NextAction =
  | { readonly type: 'redirect_to_url'; readonly url: string }
  | { readonly type: 'display_qr_code'; readonly data: string; readonly imageUrl?: string }
  /** Parameters the merchant's app or page hands to the provider's SDK (Alipay app order string, WeChat JSAPI/App params). */
  | { readonly type: 'sdk_params'; readonly params: Readonly<Record<string, string>> }
  /** A browser form the payer's browser must POST to the provider (UnionPay front consume). */
  | { readonly type: 'post_form'; readonly url: string; readonly fields: Readonly<Record<string, string>> };

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
  /** Asks what became of a refund whose outcome we do not know (channels whose refunds are asynchronous). */
  queryRefund?(request: RefundRequest): Promise<OperationOutcome>;
  /** Verifies and decodes an asynchronous notification (channels that notify). */
  parseNotification?(request: InboundHttp): Promise<VerifiedNotification>;
}

/** An HTTP request as it arrived, byte for byte: signatures cover the raw body. */
export interface InboundHttp {
  readonly method: string;
  readonly path: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly rawBody: Buffer;
}

/** The HTTP answer a provider expects (Alipay: the text `success`; WeChat: 200/204; UnionPay: 200). */
export interface HttpReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** What a verified notification says, in neutral terms. `notificationId` is stable across the provider's retries. */
export type ChannelNotification =
  | { readonly kind: 'payment'; readonly notificationId: string; readonly orderNo: string; readonly outcome: ChannelOutcome }
  | {
      readonly kind: 'refund';
      readonly notificationId: string;
      readonly orderNo: string;
      readonly refundNo: string;
      readonly amount: bigint | undefined;
      readonly outcome: OperationOutcome;
    };

/**
 * A notification that verified gets `ack` sent back (only after it is stored); one that did not is
 * answered with `reply` (so the provider retries) and changes nothing.
 */
export type VerifiedNotification =
  | { readonly ok: true; readonly notification: ChannelNotification; readonly ack: HttpReply }
  | { readonly ok: false; readonly reason: string; readonly reply: HttpReply };
