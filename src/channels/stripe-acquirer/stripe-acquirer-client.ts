/**
 * The only file that talks to the acquirer: the official stripe-node client with the merchant's own
 * key. Every call returns an AcquirerCall — the parsed object, or a classified error — and never
 * throws, except for bugs (AssertionError). The card number is revealed here, into the request
 * body, and nowhere else; stripe-node does not log bodies (emitEventBodies stays off).
 */
import Stripe from 'stripe';
import { AssertionError } from '../../kernel/index.ts';
import type { StripeAcquirerCredentials } from './stripe-acquirer-credentials.ts';
import { classifyError, type AcquirerCall, type CardPaymentMethod } from './stripe-acquirer-transform.ts';
import { readPaymentIntent, readPaymentMethodId, readRefund, type WirePaymentIntent, type WireRefund } from './stripe-acquirer-wire.ts';

export interface StripeAcquirerClient {
  createPaymentMethod(card: CardPaymentMethod, idempotencyKey: string): Promise<AcquirerCall<string>>;
  createPaymentIntent(params: Stripe.PaymentIntentCreateParams, idempotencyKey: string): Promise<AcquirerCall<WirePaymentIntent>>;
  updatePaymentIntent(id: string, params: Stripe.PaymentIntentUpdateParams, idempotencyKey: string): Promise<AcquirerCall<WirePaymentIntent>>;
  confirmPaymentIntent(id: string, params: Stripe.PaymentIntentConfirmParams, idempotencyKey: string): Promise<AcquirerCall<WirePaymentIntent>>;
  retrievePaymentIntent(id: string): Promise<AcquirerCall<WirePaymentIntent>>;
  capturePaymentIntent(id: string, amountToCapture: number, idempotencyKey: string): Promise<AcquirerCall<WirePaymentIntent>>;
  cancelPaymentIntent(id: string, idempotencyKey: string): Promise<AcquirerCall<WirePaymentIntent>>;
  createRefund(params: Stripe.RefundCreateParams, idempotencyKey: string): Promise<AcquirerCall<WireRefund>>;
  /** Every refund of a PaymentIntent, newest first, up to `limitTotal`. */
  listRefunds(paymentIntentId: string, limitTotal: number): Promise<AcquirerCall<readonly WireRefund[]>>;
}

export interface StripeAcquirerClientOptions {
  readonly credentials: StripeAcquirerCredentials;
  /** Per HTTP attempt. */
  readonly timeoutMs: number;
  /**
   * stripe-node's own retries: safe, because every mutating call carries our Idempotency-Key, and
   * useful for a dropped connection or a 409 "same key still in flight" (Stripe-Should-Retry).
   */
  readonly maxNetworkRetries: number;
}

async function run<T>(call: () => Promise<unknown>, read: (value: unknown) => T | undefined, what: string): Promise<AcquirerCall<T>> {
  let answer: unknown;
  try {
    answer = await call();
  } catch (error) {
    if (error instanceof AssertionError) throw error;
    return { ok: false, error: classifyError(error) };
  }
  const value = read(answer);
  // An answer we cannot read is no answer: the acquirer may have acted on the request.
  return value === undefined ? { ok: false, error: { kind: 'unknown', reason: `the acquirer answered ${what} with an unreadable object` } } : { ok: true, value };
}

export function createStripeAcquirerClient(options: StripeAcquirerClientOptions): StripeAcquirerClient {
  const { credentials } = options;
  const stripe = new Stripe(credentials.secretKey.reveal(), {
    ...(credentials.host === undefined ? {} : { host: credentials.host }),
    ...(credentials.port === undefined ? {} : { port: credentials.port }),
    ...(credentials.protocol === undefined ? {} : { protocol: credentials.protocol }),
    timeout: options.timeoutMs,
    maxNetworkRetries: options.maxNetworkRetries,
    telemetry: false,
    appInfo: { name: 'Fenpay stripe_acquirer channel' },
  });

  return {
    async createPaymentMethod(card, idempotencyKey) {
      const cvc = card.cvc?.reveal();
      return run(
        () =>
          stripe.paymentMethods.create(
            { type: 'card', card: { number: card.number.reveal(), exp_month: card.expMonth, exp_year: card.expYear, ...(cvc === undefined || cvc === '' ? {} : { cvc }) } },
            { idempotencyKey },
          ),
        readPaymentMethodId,
        'the PaymentMethod',
      );
    },
    async createPaymentIntent(params, idempotencyKey) {
      return run(() => stripe.paymentIntents.create(params, { idempotencyKey }), readPaymentIntent, 'the PaymentIntent create');
    },
    async updatePaymentIntent(id, params, idempotencyKey) {
      return run(() => stripe.paymentIntents.update(id, params, { idempotencyKey }), readPaymentIntent, 'the PaymentIntent update');
    },
    async confirmPaymentIntent(id, params, idempotencyKey) {
      return run(() => stripe.paymentIntents.confirm(id, params, { idempotencyKey }), readPaymentIntent, 'the confirmation');
    },
    async retrievePaymentIntent(id) {
      return run(() => stripe.paymentIntents.retrieve(id), readPaymentIntent, 'the PaymentIntent retrieve');
    },
    async capturePaymentIntent(id, amountToCapture, idempotencyKey) {
      return run(() => stripe.paymentIntents.capture(id, { amount_to_capture: amountToCapture }, { idempotencyKey }), readPaymentIntent, 'the capture');
    },
    async cancelPaymentIntent(id, idempotencyKey) {
      return run(() => stripe.paymentIntents.cancel(id, {}, { idempotencyKey }), readPaymentIntent, 'the cancel');
    },
    async createRefund(params, idempotencyKey) {
      return run(() => stripe.refunds.create(params, { idempotencyKey }), readRefund, 'the refund');
    },
    async listRefunds(paymentIntentId, limitTotal) {
      return run(
        async () => {
          const refunds: unknown[] = [];
          for await (const refund of stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 })) {
            refunds.push(refund);
            if (refunds.length >= limitTotal) break;
          }
          return refunds;
        },
        (value) => {
          const refunds = (value as unknown[]).map(readRefund);
          return refunds.every((refund) => refund !== undefined) ? refunds : undefined;
        },
        'the refund list',
      );
    },
  };
}
