/**
 * What the hosted page does for a payer: apply or remove a promotion code, pay with a method, and ask
 * how the payment stands. The payer is not a merchant: these run under the session's tenant, are
 * authorized by the session's page secret (checked by the route), and never see another session.
 *
 * Paying at most once: every payment start is written with a guard on the session's version, so of
 * two concurrent submits one starts the attempt and the other re-reads, finds a payment under way
 * (or done), and starts nothing. A new PaymentIntent is only made when the previous one is final
 * (canceled); a payer switching method while a QR code or a challenge is open first closes that
 * intent at its channel — and if the channel says it was paid meanwhile, the session completes.
 */
import { AppError, randomToken, newId } from '../kernel/index.ts';
import type { WriteSet } from '../db/index.ts';
import { getPaymentIntentById, type PaymentIntentRow } from '../payments/index.ts';
import { getCheckoutSessionById, heldRedemptionForSession, sessionUpdate, type CheckoutSessionRow } from '../checkout/index.ts';
import { finishAttempt, startAttempt } from './confirm-payment-intent.ts';
import { buildWalletPaymentMethod, resolvePaymentMethod } from './payment-method-flows.ts';
import { commit, mergeWriteSets, retryOnConflict, VersionConflict, type RequestContext, type Services } from './services.ts';
import { applyDiscountToSession, reservationWrites } from './checkout-discounts.ts';
import { closeIntent, completeSessionIfPaid, completeWithoutPayment, expireSession, notOpen } from './checkout-sessions.ts';

export type PageDevice = 'desktop' | 'mobile';

export interface PayInput {
  /** card (also Apple Pay / Google Pay, which give a card), alipay, wechat_pay, unionpay. */
  readonly method: string;
  /** For cards: the PaymentMethod the page tokenized. */
  readonly paymentMethodId: string | undefined;
  readonly email: string | undefined;
  readonly device: PageDevice;
  readonly clientIp: string | undefined;
}

export interface PageState {
  readonly status: string;
  readonly paymentStatus: string;
  readonly successUrl: string | undefined;
  readonly intent: PaymentIntentRow | undefined;
}

/** The session as the page may act on it: open and not past its expiry (an expired one is expired now). */
async function openSession(services: Services, sessionId: string): Promise<CheckoutSessionRow> {
  const session = await getCheckoutSessionById(services.db, sessionId);
  if (!session) throw new AppError('resource_missing', { message: 'No such Checkout Session.' });
  if (session.status !== 'open') throw notOpen(session);
  if (session.expires_at <= services.now()) {
    const tenant = { merchantId: session.merchant_id, livemode: session.livemode };
    const after = await expireSession(services, pageContext(tenant, undefined), session.id, { automatic: true }).catch(() => session);
    throw notOpen(after.status === 'open' ? { ...after, status: 'expired' } : after);
  }
  return session;
}

function pageContext(tenant: { merchantId: string; livemode: boolean }, clientIp: string | undefined): RequestContext {
  return { tenant, requestId: undefined, idempotency: undefined, handlesCardData: false, clientIp };
}

/**
 * Closes the session's current PaymentIntent if it waits for the payer (QR shown, challenge open) so the
 * order can change or another method can be used. Returns the session, completed if it turned out paid.
 */
async function releaseOpenPayment(services: Services, session: CheckoutSessionRow): Promise<CheckoutSessionRow> {
  if (session.payment_intent_id === null) return session;
  const intent = await getPaymentIntentById(services.db, session.payment_intent_id);
  if (!intent) return session;
  if (intent.status === 'processing' || intent.status === 'requires_capture') {
    throw new AppError('checkout_session_payment_in_progress', { message: 'A payment for this order is being processed. Wait a moment.' });
  }
  if (intent.status === 'requires_action') await closeIntent(services, { merchantId: session.merchant_id, livemode: session.livemode }, intent);
  const after = await completeSessionIfPaid(services, session.id);
  if (after && after.status !== 'open') throw notOpen(after);
  return after ?? session;
}

/** Applies a promotion code the payer typed (replacing any earlier one), or removes it (`code` undefined). */
export async function setPagePromotionCode(services: Services, sessionId: string, input: { code: string | undefined; email: string | undefined }): Promise<CheckoutSessionRow> {
  return await retryOnConflict(async () => {
    const session = await releaseOpenPayment(services, await openSession(services, sessionId));
    const tenant = { merchantId: session.merchant_id, livemode: session.livemode };
    if (!session.allow_promotion_codes) throw new AppError('promotion_codes_not_allowed', { param: 'code', message: 'This order does not take promotion codes.' });
    const withEmail = input.email === undefined || session.customer_email !== null ? session : { ...session, payer_email: input.email };
    const next: CheckoutSessionRow =
      input.code === undefined
        ? { ...withEmail, coupon_id: null, promotion_code_id: null, amount_discount: 0n, amount_total: session.amount_subtotal, version: session.version + 1 }
        : { ...(await applyDiscountToSession(services, tenant, withEmail, { code: input.code }, { param: 'code' })).session, version: session.version + 1 };
    const held = await heldRedemptionForSession(services.db, session.id);
    await commit(
      services,
      pageContext(tenant, undefined),
      {
        guards: [{ table: 'checkout_sessions', id: session.id, version: session.version }],
        updates: [sessionUpdate(next), ...(held ? [{ table: 'coupon_redemptions' as const, key: { id: held.id }, set: { status: 'released' } }] : [])],
      },
      { resourceId: null },
    );
    return next;
  });
}

const walletFlows: Readonly<Record<string, Readonly<Record<PageDevice, Record<string, string>>>>> = {
  alipay: { desktop: { fenpay_flow: 'qr' }, mobile: { fenpay_flow: 'wap' } },
  wechat_pay: { desktop: { client: 'web' }, mobile: { client: 'mobile' } },
  unionpay: { desktop: { fenpay_flow: 'page' }, mobile: { fenpay_flow: 'wap' } },
};

export function returnUrlFor(services: Services, sessionId: string): string {
  return `${services.config.publicUrl}/c/pay/${sessionId}/return`;
}

export interface PayResult {
  /** The PaymentIntent's answer (200 with the intent, 402 with a card error), or the session completed. */
  readonly session: CheckoutSessionRow;
  readonly intent: Record<string, unknown> | undefined;
  readonly error: Record<string, unknown> | undefined;
}

export async function payCheckoutSession(services: Services, sessionId: string, input: PayInput): Promise<PayResult> {
  const started = await retryOnConflict(async () => {
    let session = await openSession(services, sessionId);
    const tenant = { merchantId: session.merchant_id, livemode: session.livemode };
    const ctx = pageContext(tenant, input.clientIp);
    const email = session.customer_email ?? input.email ?? session.payer_email;
    if (email === null || email === undefined || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      throw new AppError('parameter_missing', { param: 'email', message: 'Enter a valid email address.' });
    }
    if (session.amount_total === 0n) return { done: await completeWithoutPayment(services, session, email) } as const;
    if (!session.payment_method_types.includes(input.method)) {
      throw new AppError('payment_method_type_unsupported', { param: 'method', message: `This order cannot be paid with ${input.method}.` });
    }
    let intent = session.payment_intent_id === null ? undefined : await getPaymentIntentById(services.db, session.payment_intent_id);
    if (intent?.status === 'succeeded') {
      const after = await completeSessionIfPaid(services, session.id);
      return { done: after ?? session } as const;
    }
    if (intent?.status === 'requires_action') {
      session = await releaseOpenPayment(services, session);
      throw new VersionConflict('the open payment was closed; start again');
    }
    if (intent !== undefined && intent.status !== 'requires_payment_method' && intent.status !== 'requires_confirmation' && intent.status !== 'canceled') {
      throw new AppError('checkout_session_payment_in_progress', { message: 'A payment for this order is being processed. Wait a moment.' });
    }
    if (intent?.status === 'canceled') intent = undefined;
    // Card testing: a checkout page is a capability anyone with its URL holds; cap the failures it absorbs.
    if (intent !== undefined) {
      const failed = await services.db
        .selectFrom('payment_attempts')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('payment_intent_id', '=', intent.id)
        .where('status', '=', 'failed')
        .executeTakeFirstOrThrow();
      if (Number(failed.n) >= services.config.checkoutFailedAttemptsMax) {
        throw new AppError('checkout_too_many_attempts', { message: 'Too many payment attempts failed for this order. Please contact the merchant.' });
      }
    }

    const paymentMethod =
      input.method === 'card'
        ? await resolvePaymentMethod(services, ctx, {
            paymentMethodId: input.paymentMethodId ?? '',
            customerId: null,
            param: 'payment_method',
          })
        : buildWalletPaymentMethod(services, ctx, { type: input.method, billingDetails: { email }, param: 'method' });
    if (input.method === 'card' && input.paymentMethodId === undefined) throw new AppError('payment_method_required', { param: 'payment_method' });
    const options: Record<string, Record<string, string>> = input.method === 'card' ? {} : { [input.method]: { ...walletFlows[input.method]![input.device] } };
    const now = services.now();
    const isNew = intent === undefined;
    const data = session.payment_intent_data as { description?: string; statementDescriptor?: string; metadata?: Record<string, string> };
    const base: PaymentIntentRow =
      intent === undefined
        ? newIntentRow(services, session, { email, options, now, description: data.description, statementDescriptor: data.statementDescriptor, metadata: data.metadata })
        : { ...intent, amount: session.amount_total, receipt_email: email, payment_method_options: options };
    const nextSession: CheckoutSessionRow = { ...session, payment_intent_id: base.id, payer_email: session.customer_email === null ? email : session.payer_email, version: session.version + 1 };
    const sessionWrites: WriteSet = { guards: [{ table: 'checkout_sessions', id: session.id, version: session.version }], updates: [sessionUpdate(nextSession)] };
    const reservation = await reservationWrites(services, session, email);
    // A new intent's row is inserted by startAttempt, after the session update names it: the session
    // row is written in the same unit, and the batcher inserts before it updates.
    return {
      started: await startAttempt(services, ctx, {
        intent: base,
        paymentMethod,
        isNew,
        returnUrl: returnUrlFor(services, session.id),
        receiptEmail: email,
        extraWrites: mergeWriteSets(sessionWrites, reservation),
      }),
      ctx,
    } as const;
  }, 20);
  if ('done' in started) return { session: started.done, intent: undefined, error: undefined };
  const response = await finishAttempt(services, started.ctx, started.started);
  const session = (await completeSessionIfPaid(services, sessionId)) ?? (await getCheckoutSessionById(services.db, sessionId));
  if (!session) throw new AppError('resource_missing', { message: 'No such Checkout Session.' });
  if (response.status === 200) return { session, intent: response.body, error: undefined };
  const error = (response.body as { error?: Record<string, unknown> }).error ?? {};
  return { session, intent: error.payment_intent as Record<string, unknown> | undefined, error };
}

function newIntentRow(
  services: Services,
  session: CheckoutSessionRow,
  input: { email: string; options: Record<string, Record<string, string>>; now: Date; description: string | undefined; statementDescriptor: string | undefined; metadata: Record<string, string> | undefined },
): PaymentIntentRow {
  const id = newId('paymentIntent');
  return {
    id,
    merchant_id: session.merchant_id,
    livemode: session.livemode,
    amount: session.amount_total,
    currency: session.currency,
    status: 'requires_confirmation',
    capture_method: 'automatic',
    confirmation_method: 'automatic',
    payment_method_types: [...session.payment_method_types],
    customer_id: session.customer_id,
    payment_method_id: null,
    description: input.description ?? null,
    receipt_email: input.email,
    statement_descriptor: input.statementDescriptor ?? null,
    return_url: returnUrlFor(services, session.id),
    metadata: { ...(input.metadata ?? {}) },
    amount_capturable: 0n,
    amount_received: 0n,
    amount_refunded: 0n,
    latest_attempt_id: null,
    next_action: null,
    payment_method_options: input.options,
    last_payment_error: null,
    cancellation_reason: null,
    canceled_at: null,
    client_secret: `${id}_secret_${randomToken(24)}`,
    expires_at: new Date(Math.min(input.now.getTime() + services.config.paymentIntentExpirySeconds * 1000, session.expires_at.getTime() + 60_000)),
    capture_before: null,
    version: 1,
    created_at: input.now,
    updated_at: input.now,
  };
}

/** How the session and its payment stand now (the page polls this); completes a paid session on the way. */
export async function pageState(services: Services, sessionId: string): Promise<PageState | undefined> {
  let session = await getCheckoutSessionById(services.db, sessionId);
  if (!session) return undefined;
  if (session.status === 'open') session = (await completeSessionIfPaid(services, sessionId)) ?? session;
  if (session.status === 'open' && session.expires_at <= services.now()) {
    const tenant = { merchantId: session.merchant_id, livemode: session.livemode };
    session = await expireSession(services, pageContext(tenant, undefined), session.id, { automatic: true }).catch(() => session!);
  }
  const intent = session.payment_intent_id === null ? undefined : await getPaymentIntentById(services.db, session.payment_intent_id);
  return { status: session.status, paymentStatus: session.payment_status, successUrl: session.status === 'complete' ? session.success_url.replaceAll('{CHECKOUT_SESSION_ID}', session.id) : undefined, intent };
}

