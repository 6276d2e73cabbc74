import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../kernel/index.ts';
import { checkCredentials, keyMode } from './stripe-acquirer-credentials.ts';
import { paymentIntentStatuses, refundStatuses } from './stripe-acquirer-status.ts';
import {
  classifyError,
  failureFromError,
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
  reasonFromError,
  type AcquirerError,
} from './stripe-acquirer-transform.ts';
import { readAmount, readPaymentIntent, readRefund, toStripeAmount, type WirePaymentIntent, type WireRefund } from './stripe-acquirer-wire.ts';

const orderNo = 'att_1';

function intent(fields: Partial<WirePaymentIntent>): WirePaymentIntent {
  return {
    id: 'pi_1',
    status: 'succeeded',
    amount: 2_000n,
    amountReceived: 2_000n,
    currency: 'usd',
    nextActionType: undefined,
    redirectUrl: undefined,
    lastPaymentError: undefined,
    orderNo,
    ...fields,
  };
}

function refund(fields: Partial<WireRefund>): WireRefund {
  return { id: 're_1', status: 'succeeded', amount: 500n, currency: 'usd', paymentIntent: 'pi_1', refundNo: 'rf_1', ...fields };
}

/** A StripeError built by stripe-node's own factory from a raw API error, as a real answer would be. */
function stripeError(raw: Record<string, unknown>): Stripe.errors.StripeError {
  return Stripe.errors.StripeError.generate(raw);
}

const rawIntent = (status: string) => ({ id: 'pi_9', object: 'payment_intent', status, amount: 2_000, currency: 'usd', metadata: { fenpay_order_no: orderNo } });

describe('outcomeFromPaymentIntent', () => {
  it('maps every PaymentIntent status Stripe documents', () => {
    const mapped = Object.fromEntries(
      paymentIntentStatuses.map((status) => [
        status,
        outcomeFromPaymentIntent(intent({ status, nextActionType: 'redirect_to_url', redirectUrl: 'https://acq.test/3ds', lastPaymentError: { type: 'card_error', code: 'card_declined', declineCode: 'generic_decline' } }), orderNo).status,
      ]),
    );
    expect(mapped).toEqual({
      requires_payment_method: 'failed',
      requires_confirmation: 'processing',
      requires_action: 'requires_action',
      processing: 'processing',
      requires_capture: 'requires_capture',
      canceled: 'canceled',
      succeeded: 'succeeded',
    });
  });

  it('echoes the amount and currency the acquirer holds, not the ones asked for', () => {
    expect(outcomeFromPaymentIntent(intent({ amount: 1_999n, currency: 'eur' }), orderNo)).toEqual({ status: 'succeeded', reference: 'pi_1', amount: 1_999n, currency: 'eur' });
    expect(outcomeFromPaymentIntent(intent({ status: 'requires_capture' }), orderNo)).toEqual({ status: 'requires_capture', reference: 'pi_1', amount: 2_000n, currency: 'usd' });
  });

  it('does not believe a success without amount or currency', () => {
    expect(outcomeFromPaymentIntent(intent({ amount: undefined }), orderNo).status).toBe('processing');
    expect(outcomeFromPaymentIntent(intent({ status: 'requires_capture', currency: undefined }), orderNo).status).toBe('processing');
  });

  it('does not believe a PaymentIntent that belongs to another order', () => {
    expect(outcomeFromPaymentIntent(intent({ orderNo: 'att_2' }), orderNo)).toMatchObject({ status: 'processing', reference: 'pi_1' });
    expect(outcomeFromPaymentIntent(intent({ orderNo: undefined }), orderNo).status).toBe('processing');
  });

  it('treats a status it does not know as processing, never as success or failure', () => {
    for (const status of ['requires_source', 'SUCCEEDED', 'paid']) {
      expect(outcomeFromPaymentIntent(intent({ status }), orderNo)).toMatchObject({ status: 'processing', reason: expect.stringContaining('unknown acquirer status') });
    }
  });

  it('tells a failed confirmation from one that never happened', () => {
    const declined = intent({ status: 'requires_payment_method', lastPaymentError: { type: 'card_error', code: 'card_declined', declineCode: 'insufficient_funds' } });
    expect(outcomeFromPaymentIntent(declined, orderNo)).toEqual({
      status: 'failed',
      reference: 'pi_1',
      failure: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
    });
    expect(outcomeFromPaymentIntent(intent({ status: 'requires_payment_method' }), orderNo)).toEqual({
      status: 'processing',
      reference: 'pi_1',
      reason: 'the acquirer PaymentIntent has not been confirmed',
    });
  });

  it('hands on a 3-D Secure redirect, and nothing that is not a redirect', () => {
    expect(outcomeFromPaymentIntent(intent({ status: 'requires_action', nextActionType: 'redirect_to_url', redirectUrl: 'https://acq.test/3ds/1' }), orderNo)).toEqual({
      status: 'requires_action',
      reference: 'pi_1',
      action: { type: 'redirect_to_url', url: 'https://acq.test/3ds/1' },
    });
    expect(outcomeFromPaymentIntent(intent({ status: 'requires_action', nextActionType: 'use_stripe_sdk' }), orderNo)).toMatchObject({ status: 'processing', reason: expect.stringContaining('use_stripe_sdk') });
    expect(outcomeFromPaymentIntent(intent({ status: 'requires_action', nextActionType: 'redirect_to_url' }), orderNo).status).toBe('processing');
  });
});

describe('failureFromError', () => {
  it('folds Stripe card error codes into the six Fenpay codes, keeping the specific reason', () => {
    const cases: [string | undefined, string | undefined, string, string | undefined][] = [
      ['card_declined', 'generic_decline', 'card_declined', 'generic_decline'],
      ['card_declined', 'stolen_card', 'card_declined', 'stolen_card'],
      ['card_declined', undefined, 'card_declined', undefined],
      ['expired_card', undefined, 'expired_card', 'expired_card'],
      ['incorrect_cvc', undefined, 'incorrect_cvc', 'incorrect_cvc'],
      ['invalid_cvc', undefined, 'incorrect_cvc', 'invalid_cvc'],
      ['incorrect_number', undefined, 'incorrect_number', 'incorrect_number'],
      ['invalid_number', undefined, 'incorrect_number', 'invalid_number'],
      ['processing_error', undefined, 'processing_error', 'processing_error'],
      ['payment_intent_authentication_failure', undefined, 'payment_intent_authentication_failure', undefined],
      ['invalid_expiry_month', undefined, 'card_declined', 'invalid_expiry_month'],
      ['authentication_required', undefined, 'card_declined', 'authentication_required'],
      ['some_future_code', undefined, 'card_declined', 'some_future_code'],
      [undefined, undefined, 'card_declined', undefined],
    ];
    for (const [code, declineCode, expectedCode, expectedDecline] of cases) {
      const failure = failureFromError({ type: 'card_error', code, declineCode });
      expect([failure.code, failure.declineCode], String(code)).toEqual([expectedCode, expectedDecline]);
      expect(failure.message.length).toBeGreaterThan(0);
    }
  });

  it('writes its own payer messages', () => {
    expect(failureFromError({ type: 'card_error', code: 'card_declined', declineCode: 'insufficient_funds' }).message).toBe('Your card has insufficient funds.');
    expect(failureFromError({ type: 'card_error', code: 'card_declined', declineCode: 'do_not_honor' }).message).toBe('Your card was declined.');
  });
});

describe('classifyError', () => {
  it('sees a 402 card error as a decline, with the PaymentIntent it carries', () => {
    const error = classifyError(stripeError({ statusCode: 402, type: 'card_error', code: 'card_declined', decline_code: 'lost_card', message: 'Your card was declined.', payment_intent: rawIntent('requires_payment_method') }));
    expect(error).toMatchObject({ kind: 'declined', failure: { code: 'card_declined', declineCode: 'lost_card' }, paymentIntent: { id: 'pi_9' } });
  });

  it('reads a missing decline code as none (stripe-node turns it into an empty string)', () => {
    expect(classifyError(stripeError({ statusCode: 402, type: 'card_error', code: 'expired_card' }))).toMatchObject({ kind: 'declined', failure: { code: 'expired_card', declineCode: 'expired_card' } });
  });

  it('sees 400, 401, 403 and 404 as refusals', () => {
    for (const statusCode of [400, 401, 403, 404]) {
      expect(classifyError(stripeError({ statusCode, type: 'invalid_request_error', code: 'parameter_invalid', message: 'no' })).kind, String(statusCode)).toBe('refused');
    }
  });

  it('sees everything that may hide a done deed as unknown', () => {
    const unknowns: Record<string, unknown>[] = [
      { statusCode: 500, type: 'api_error' },
      { statusCode: 502, type: 'api_error' },
      { statusCode: 503 },
      { statusCode: 409, type: 'idempotency_error', code: 'idempotency_key_in_use' },
      { statusCode: 400, type: 'idempotency_error', code: 'idempotency_key_reused' },
      { statusCode: 429, type: 'rate_limit_error' },
      { statusCode: 400, type: 'invalid_request_error', code: 'rate_limit' },
    ];
    for (const raw of unknowns) expect(classifyError(stripeError(raw)).kind, JSON.stringify(raw)).toBe('unknown');
    expect(classifyError(new Stripe.errors.StripeConnectionError({ message: 'An error occurred with our connection to Stripe.' })).kind).toBe('unknown');
    expect(classifyError(new TypeError('fetch failed')).kind).toBe('unknown');
    expect(classifyError('a string').kind).toBe('unknown');
  });
});

describe('reasonFromError', () => {
  it("names the error's class, status and code but never repeats its message", () => {
    const reason = reasonFromError(stripeError({ statusCode: 503, type: 'api_error', code: 'lock_timeout', message: 'card 4242424242424242 sk_test_abc' }));
    expect(reason).toBe('acquirer call failed: StripeAPIError HTTP 503 lock_timeout');
    const connection = new Stripe.errors.StripeConnectionError({ message: 'x', detail: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(reasonFromError(connection)).toBe('acquirer call failed: StripeConnectionError (Error ECONNREFUSED)');
  });
});

describe('outcomeFromAuthorizeError', () => {
  const declined: AcquirerError = { kind: 'declined', failure: { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' }, paymentIntent: intent({ id: 'pi_7', status: 'requires_payment_method' }) };
  const refused: AcquirerError = { kind: 'refused', reason: 'HTTP 400', message: 'Invalid currency', paymentIntent: undefined };
  const unknown: AcquirerError = { kind: 'unknown', reason: 'acquirer call failed: StripeConnectionError' };

  it('fails a decline, naming the PaymentIntent', () => {
    expect(outcomeFromAuthorizeError(declined, { orderNo, reference: undefined, step: 'confirm' })).toEqual({ status: 'failed', reference: 'pi_7', failure: declined.failure });
  });

  it('fails a refusal before the confirmation, where nothing can have been charged', () => {
    expect(outcomeFromAuthorizeError(refused, { orderNo, reference: undefined, step: 'before_confirm' })).toMatchObject({ status: 'failed', failure: { code: 'processing_error' } });
  });

  it('keeps a refused confirmation without a PaymentIntent unknown, and reads one that carries it', () => {
    expect(outcomeFromAuthorizeError(refused, { orderNo, reference: 'pi_1', step: 'confirm' })).toEqual({ status: 'processing', reference: 'pi_1', reason: 'HTTP 400' });
    const alreadyPaid: AcquirerError = { ...refused, paymentIntent: intent({ status: 'succeeded' }) };
    expect(outcomeFromAuthorizeError(alreadyPaid, { orderNo, reference: 'pi_1', step: 'confirm' })).toEqual({ status: 'succeeded', reference: 'pi_1', amount: 2_000n, currency: 'usd' });
  });

  it('keeps anything unknown processing, at every step', () => {
    for (const step of ['before_confirm', 'confirm'] as const) {
      expect(outcomeFromAuthorizeError(unknown, { orderNo, reference: undefined, step })).toEqual({ status: 'processing', reference: undefined, reason: unknown.reason });
    }
  });
});

describe('operations', () => {
  const refusedWith = (status: string | undefined): AcquirerError => ({
    kind: 'refused',
    reason: 'HTTP 400',
    message: 'unexpected state',
    paymentIntent: status === undefined ? undefined : intent({ id: 'pi_3', status }),
  });
  const unknown: AcquirerError = { kind: 'unknown', reason: 'acquirer call failed: StripeAPIError HTTP 500' };

  it('calls a capture done only when the PaymentIntent succeeded', () => {
    expect(outcomeFromCapture(intent({}))).toEqual({ status: 'succeeded', reference: 'pi_1' });
    expect(outcomeFromCapture(intent({ status: 'processing' })).status).toBe('processing');
    expect(outcomeFromCaptureError(refusedWith('succeeded'))).toEqual({ status: 'succeeded', reference: 'pi_3' });
    expect(outcomeFromCaptureError(refusedWith('canceled'))).toMatchObject({ status: 'failed' });
    expect(outcomeFromCaptureError(refusedWith(undefined))).toMatchObject({ status: 'failed', message: expect.stringContaining('unexpected state') });
    expect(outcomeFromCaptureError(unknown)).toEqual({ status: 'processing', reason: unknown.reason });
  });

  it('counts an already-canceled PaymentIntent as voided and refuses to void a captured one', () => {
    expect(outcomeFromCancel(intent({ status: 'canceled' }))).toEqual({ status: 'succeeded', reference: 'pi_1' });
    expect(outcomeFromCancel(intent({ status: 'requires_capture' })).status).toBe('processing');
    expect(outcomeFromCancelError(refusedWith('canceled'))).toEqual({ status: 'succeeded', reference: 'pi_3' });
    expect(outcomeFromCancelError(refusedWith('processing')).status).toBe('processing');
    expect(outcomeFromCancelError(refusedWith('succeeded'))).toMatchObject({ status: 'failed', message: expect.stringContaining('refund') });
    expect(outcomeFromCancelError(unknown).status).toBe('processing');
  });

  it('maps every refund status Stripe documents', () => {
    const mapped = Object.fromEntries(refundStatuses.map((status) => [status, outcomeFromRefund(refund({ status }), { refundNo: 'rf_1', refundAmount: 500n }).status]));
    expect(mapped).toEqual({ pending: 'processing', requires_action: 'processing', succeeded: 'succeeded', failed: 'failed', canceled: 'failed' });
    expect(outcomeFromRefund(refund({ status: 'reversed' }), { refundNo: 'rf_1', refundAmount: 500n }).status).toBe('processing');
  });

  it('does not believe a refund for another refund number or amount', () => {
    expect(outcomeFromRefund(refund({ refundNo: 'rf_2' }), { refundNo: 'rf_1', refundAmount: 500n }).status).toBe('processing');
    expect(outcomeFromRefund(refund({ amount: 499n }), { refundNo: 'rf_1', refundAmount: 500n }).status).toBe('processing');
  });

  it('fails a refused refund and keeps an unanswered one processing', () => {
    expect(outcomeFromRefundError(refusedWith(undefined))).toMatchObject({ status: 'failed', message: expect.stringContaining('refused the refund') });
    expect(outcomeFromRefundError(unknown).status).toBe('processing');
  });
});

describe('requests', () => {
  it('builds the PaymentIntent create from the order alone, so a query can replay it', () => {
    const params = paymentIntentParams({ orderNo, amount: 2_000n, currency: 'usd' });
    expect(params).toEqual({ amount: 2_000, currency: 'usd', automatic_payment_methods: { enabled: true, allow_redirects: 'never' }, metadata: { fenpay_order_no: orderNo } });
    expect(paymentIntentParams({ orderNo, amount: 2_000n, currency: 'usd' })).toEqual(params);
  });

  it('derives a distinct, stable Idempotency-Key for every step from the order or refund number', () => {
    const keys = [idempotencyKeys.paymentMethod, idempotencyKeys.paymentIntent, idempotencyKeys.captureMethod, idempotencyKeys.confirm, idempotencyKeys.capture, idempotencyKeys.cancel, idempotencyKeys.refund].map((key) => key('att_1'));
    expect(new Set(keys).size).toBe(keys.length);
    expect(idempotencyKeys.confirm('att_1')).toBe(idempotencyKeys.confirm('att_1'));
    expect(idempotencyKeys.confirm('att_1')).not.toBe(idempotencyKeys.confirm('att_2'));
  });

  it('accepts only card payment methods (wallets arrive as cards)', () => {
    expect(isCardPaymentMethod({ type: 'card', number: new Secret('4242424242424242'), expMonth: 1, expYear: 2030, cvc: undefined, brand: 'visa' })).toBe(true);
    expect(isCardPaymentMethod({ type: 'apple_pay' })).toBe(false);
    expect(isCardPaymentMethod({ type: 'card' })).toBe(false);
  });
});

describe('wire', () => {
  it('reads amounts as safe non-negative integers only', () => {
    expect(readAmount(2_000)).toBe(2_000n);
    for (const bad of [12.5, -1, '2000', Number.MAX_SAFE_INTEGER + 2, null]) expect(readAmount(bad)).toBeUndefined();
    expect(toStripeAmount(99n)).toBe(99);
    expect(() => toStripeAmount(0n)).toThrow(RangeError);
  });

  it('reads a PaymentIntent field by field and refuses one without id or status', () => {
    expect(
      readPaymentIntent({
        id: 'pi_1',
        status: 'requires_action',
        amount: 100,
        amount_received: 0,
        currency: 'usd',
        next_action: { type: 'redirect_to_url', redirect_to_url: { url: 'https://acq.test/3ds', return_url: null } },
        last_payment_error: null,
        metadata: { fenpay_order_no: 'att_1' },
      }),
    ).toEqual({ id: 'pi_1', status: 'requires_action', amount: 100n, amountReceived: 0n, currency: 'usd', nextActionType: 'redirect_to_url', redirectUrl: 'https://acq.test/3ds', lastPaymentError: undefined, orderNo: 'att_1' });
    expect(readPaymentIntent({ status: 'succeeded' })).toBeUndefined();
    expect(readPaymentIntent([])).toBeUndefined();
  });

  it('reads a refund with its PaymentIntent expanded or not', () => {
    const base = { id: 're_1', status: 'succeeded', amount: 5, currency: 'usd', metadata: { fenpay_refund_no: 'rf_1' } };
    expect(readRefund({ ...base, payment_intent: 'pi_1' })?.paymentIntent).toBe('pi_1');
    expect(readRefund({ ...base, payment_intent: { id: 'pi_1' } })?.paymentIntent).toBe('pi_1');
    expect(readRefund({ ...base, payment_intent: 'pi_1' })?.refundNo).toBe('rf_1');
  });
});

describe('credentials', () => {
  it('reads the mode from the key prefix', () => {
    expect(keyMode('sk_test_abc123')).toBe('test');
    expect(keyMode('rk_live_abc123')).toBe('live');
    expect(keyMode('pk_test_abc123')).toBeUndefined();
    expect(keyMode('whsec_abc')).toBeUndefined();
  });

  it('refuses a key whose mode is not exactly the channel modes, without echoing the key', () => {
    expect(checkCredentials({ secretKey: new Secret('sk_test_abc123') }, ['test'])).toBe('test');
    expect(() => checkCredentials({ secretKey: new Secret('sk_test_abc123') }, ['live'])).toThrow(TypeError);
    expect(() => checkCredentials({ secretKey: new Secret('sk_test_abc123') }, ['test', 'live'])).toThrow(TypeError);
    expect(() => checkCredentials({ secretKey: new Secret('pk_test_abc123') }, ['test'])).toThrow(/secret \(sk_\) or restricted/);
    const thrown = (() => {
      try {
        checkCredentials({ secretKey: new Secret('sk_live_verysecret') }, ['test']);
        return undefined;
      } catch (error) {
        return String(error);
      }
    })();
    expect(thrown).toContain('live-mode key');
    expect(thrown).not.toContain('verysecret');
    expect(() => checkCredentials({ secretKey: new Secret('sk_test_abc123'), host: 'https://api.stripe.com' }, ['test'])).toThrow(/host/);
    expect(() => checkCredentials({ secretKey: new Secret('sk_test_abc123'), port: 70_000 }, ['test'])).toThrow(/port/);
  });
});
