/**
 * Checkout Sessions: create, expire, and complete. A session's PaymentIntent is made when the payer
 * pays (checkout-pay.ts); the session completes when that intent has succeeded — seen by the pay
 * request itself, by the page's status poll, by the return from a redirect, by any API read of the
 * session, and by the checkout sweeper (the worker's startCheckoutSweeper loop), whichever comes first. Every one of
 * them writes under the session's version guard, so a session completes, and is paid, exactly once.
 */
import { AppError, amountMaxMinor, applyMetadata, newId, randomToken, type MetadataPatch, type Tenant } from '../kernel/index.ts';
import type { WriteSet } from '../db/index.ts';
import { eventRow } from '../events/index.ts';
import { getCustomer } from '../customers/index.ts';
import { getPaymentIntentById, type PaymentIntentRow } from '../payments/index.ts';
import {
  getCheckoutSession,
  getCouponById,
  heldRedemptionForSession,
  openSessionsWithPayment,
  serializeCheckoutSession,
  sessionLifetimeSecondsMax,
  sessionLifetimeSecondsMin,
  sessionUpdate,
  sessionsDueForExpiry,
  getCheckoutSessionById,
  getPromotionCode,
  type CheckoutLineItemRow,
  type CheckoutSessionRow,
} from '../checkout/index.ts';
import { cancelPaymentIntent } from './cancel-payment-intent.ts';
import { commit, retryOnConflict, systemContext, VersionConflict, type RequestContext, type Services } from './services.ts';
import { applyDiscountToSession, type DiscountChoice } from './checkout-discounts.ts';

export interface LineItemInput {
  readonly name: string;
  readonly description: string | undefined;
  readonly unitAmount: bigint;
  readonly quantity: number;
  readonly currency: string;
}

export interface CreateCheckoutSessionInput {
  readonly lineItems: readonly LineItemInput[];
  readonly successUrl: string;
  readonly cancelUrl: string | undefined;
  readonly expiresAt: Date | undefined;
  readonly allowPromotionCodes: boolean;
  readonly discounts: DiscountChoice | undefined;
  readonly paymentMethodTypes: readonly string[] | undefined;
  readonly customerId: string | undefined;
  readonly customerEmail: string | undefined;
  readonly locale: string | undefined;
  readonly metadata: MetadataPatch | undefined;
  readonly clientReferenceId: string | undefined;
  readonly paymentIntentData: { description?: string; statementDescriptor?: string; metadata?: Record<string, string> } | undefined;
}

/** Wallet methods Fenpay's channels take, and the one currency they settle in. */
const walletTypes = ['alipay', 'wechat_pay', 'unionpay'] as const;
const walletCurrency = 'cny';

/** Methods with a channel in this mode that can take this currency: what a session offers by default. */
export function availablePaymentMethodTypes(services: Services, tenant: Tenant, currency: string): string[] {
  const types: string[] = [];
  if (services.channels.forPaymentMethodType('card', tenant.livemode)) types.push('card');
  if (currency === walletCurrency) for (const type of walletTypes) if (services.channels.forPaymentMethodType(type, tenant.livemode)) types.push(type);
  return types;
}

function checkRedirectUrl(url: string, param: string, livemode: boolean): void {
  let parsed: URL;
  try {
    parsed = new URL(url.replaceAll('{CHECKOUT_SESSION_ID}', 'cs'));
  } catch {
    throw new AppError('parameter_invalid', { param, message: `Not a valid URL: ${param}.` });
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && !livemode)) {
    throw new AppError('parameter_invalid', { param, message: `${param} must be an https URL${livemode ? '' : ' (http is accepted in test mode)'}.` });
  }
}

export async function createCheckoutSession(services: Services, ctx: RequestContext, input: CreateCheckoutSessionInput): Promise<Record<string, unknown>> {
  const now = services.now();
  const { tenant } = ctx;
  if (input.lineItems.length === 0) throw new AppError('parameter_missing', { param: 'line_items', message: 'line_items is required in payment mode.' });
  const currency = input.lineItems[0]!.currency;
  input.lineItems.forEach((item, i) => {
    if (item.currency !== currency) throw new AppError('parameter_invalid', { param: `line_items[${i}][price_data][currency]`, message: 'All line items must have the same currency.' });
  });
  const subtotal = input.lineItems.reduce((sum, item) => sum + item.unitAmount * BigInt(item.quantity), 0n);
  if (subtotal <= 0n) throw new AppError('amount_must_be_positive', { param: 'line_items', message: 'The total of the line items must be greater than zero.' });
  if (subtotal > amountMaxMinor) throw new AppError('amount_too_large', { param: 'line_items', message: `The total of the line items must be no more than ${amountMaxMinor} in the currency's smallest unit.` });
  checkRedirectUrl(input.successUrl, 'success_url', tenant.livemode);
  if (input.cancelUrl !== undefined) checkRedirectUrl(input.cancelUrl, 'cancel_url', tenant.livemode);
  const expiresAt = input.expiresAt ?? new Date(now.getTime() + sessionLifetimeSecondsMax * 1000);
  const lifetimeSeconds = (expiresAt.getTime() - now.getTime()) / 1000;
  if (lifetimeSeconds < sessionLifetimeSecondsMin - 5 || lifetimeSeconds > sessionLifetimeSecondsMax + 5) {
    throw new AppError('parameter_invalid', { param: 'expires_at', message: 'expires_at must be between 30 minutes and 24 hours after the Checkout Session is created.' });
  }
  if (input.allowPromotionCodes && input.discounts !== undefined) {
    throw new AppError('parameter_invalid', { param: 'discounts', message: 'You may only specify one of these parameters: allow_promotion_codes, discounts.' });
  }
  if (input.customerId !== undefined && input.customerEmail !== undefined) {
    throw new AppError('parameter_invalid', { param: 'customer_email', message: 'You may only specify one of these parameters: customer, customer_email.' });
  }
  let customerEmail = input.customerEmail ?? null;
  if (input.customerId !== undefined) {
    const customer = await getCustomer(services.db, tenant, input.customerId);
    if (!customer) throw new AppError('resource_missing', { param: 'customer', message: `No such customer: '${input.customerId}'` });
    customerEmail = null;
    if (customer.email !== null) customerEmail = customer.email;
  }
  const available = availablePaymentMethodTypes(services, tenant, currency);
  const types = input.paymentMethodTypes === undefined ? available : [...new Set(input.paymentMethodTypes)];
  types.forEach((type, i) => {
    if (!available.includes(type)) {
      const why = (walletTypes as readonly string[]).includes(type) && currency !== walletCurrency ? ` ${type} takes ${walletCurrency} only.` : ` No ${tenant.livemode ? 'live' : 'test'}-mode channel serves it.`;
      throw new AppError('payment_method_type_unsupported', { param: `payment_method_types[${i}]`, message: `The payment method type '${type}' cannot be used for this Checkout Session.${why}` });
    }
  });
  if (types.length === 0) throw new AppError('payment_method_type_unsupported', { param: 'payment_method_types', message: `No payment method can take ${currency} in ${tenant.livemode ? 'live' : 'test'} mode.` });

  const id = newId('checkoutSession');
  let session: CheckoutSessionRow = {
    id,
    merchant_id: tenant.merchantId,
    livemode: tenant.livemode,
    mode: 'payment',
    status: 'open',
    payment_status: 'unpaid',
    currency,
    amount_subtotal: subtotal,
    amount_discount: 0n,
    amount_total: subtotal,
    coupon_id: null,
    promotion_code_id: null,
    allow_promotion_codes: input.allowPromotionCodes,
    payment_method_types: types,
    success_url: input.successUrl,
    cancel_url: input.cancelUrl ?? null,
    customer_id: input.customerId ?? null,
    customer_email: input.customerId === undefined ? customerEmail : null,
    payer_email: input.customerId === undefined ? null : customerEmail,
    locale: input.locale ?? null,
    client_reference_id: input.clientReferenceId ?? null,
    metadata: applyMetadata({}, input.metadata),
    payment_intent_data: input.paymentIntentData ?? {},
    payment_intent_id: null,
    page_secret: randomToken(32),
    expires_at: expiresAt,
    completed_at: null,
    expired_at: null,
    version: 1,
    created_at: now,
  };
  let coupon;
  if (input.discounts !== undefined) {
    const applied = await applyDiscountToSession(services, tenant, session, input.discounts, { param: 'discounts[0]' });
    session = applied.session;
    coupon = applied.coupon;
  }
  const lineItems: CheckoutLineItemRow[] = input.lineItems.map((item, position) => ({
    id: newId('checkoutLineItem'),
    session_id: id,
    merchant_id: tenant.merchantId,
    position,
    name: item.name,
    description: item.description ?? null,
    price_id: newId('price'),
    product_id: newId('product'),
    unit_amount: item.unitAmount,
    quantity: item.quantity,
    currency: item.currency,
  }));
  const body = serializeCheckoutSession(session, { publicUrl: services.config.publicUrl, coupon, now });
  const scope = ctx.idempotency;
  await commit(
    services,
    ctx,
    {
      inserts: [{ table: 'checkout_sessions', row: { ...session } }, ...lineItems.map((row) => ({ table: 'checkout_line_items' as const, row: { ...row } }))],
      updates: scope ? [scope.complete({ status: 200, body })] : [],
    },
    { resourceId: id },
  );
  if (scope) scope.completed = true;
  return body;
}

export async function serializeSession(services: Services, session: CheckoutSessionRow): Promise<Record<string, unknown>> {
  const coupon = session.coupon_id === null ? undefined : await getCouponById(services.db, session.coupon_id);
  return serializeCheckoutSession(session, { publicUrl: services.config.publicUrl, coupon, now: services.now() });
}

/**
 * The writes that complete a session: the session itself (guarded by its version), the redemption of
 * its discount (counted on the coupon and promotion code under their guards), and the
 * `checkout.session.completed` event, in one unit.
 */
async function completionWrites(services: Services, session: CheckoutSessionRow, paymentStatus: 'paid' | 'no_payment_required', extra: { payerEmail: string | null }): Promise<{ writeSet: WriteSet; next: CheckoutSessionRow }> {
  const now = services.now();
  const tenant = { merchantId: session.merchant_id, livemode: session.livemode };
  const next: CheckoutSessionRow = {
    ...session,
    status: 'complete',
    payment_status: paymentStatus,
    payer_email: session.payer_email ?? extra.payerEmail,
    completed_at: now,
    version: session.version + 1,
  };
  const guards: NonNullable<WriteSet['guards']>[number][] = [{ table: 'checkout_sessions', id: session.id, version: session.version }];
  const updates: NonNullable<WriteSet['updates']>[number][] = [sessionUpdate(next)];
  const inserts: NonNullable<WriteSet['inserts']>[number][] = [];
  if (session.coupon_id !== null) {
    const coupon = await getCouponById(services.db, session.coupon_id);
    const held = await heldRedemptionForSession(services.db, session.id);
    if (coupon) {
      guards.push({ table: 'coupons', id: coupon.id, version: coupon.version });
      updates.push({ table: 'coupons', key: { id: coupon.id }, set: { times_redeemed: coupon.times_redeemed + 1, version: coupon.version + 1 } });
    }
    if (session.promotion_code_id !== null) {
      const code = await getPromotionCode(services.db, tenant, session.promotion_code_id);
      if (code) {
        guards.push({ table: 'promotion_codes', id: code.id, version: code.version });
        updates.push({ table: 'promotion_codes', key: { id: code.id }, set: { times_redeemed: code.times_redeemed + 1, version: code.version + 1 } });
      }
    }
    if (held) updates.push({ table: 'coupon_redemptions', key: { id: held.id }, set: { status: 'redeemed' } });
    else {
      inserts.push({
        table: 'coupon_redemptions',
        row: { id: newId('couponRedemption'), merchant_id: session.merchant_id, livemode: session.livemode, coupon_id: session.coupon_id, promotion_code_id: session.promotion_code_id, session_id: session.id, payer_email: next.payer_email, first_time_only: false, status: 'redeemed', created_at: now },
      });
    }
  }
  const body = await serializeSession(services, next);
  inserts.push(eventRow({ tenant, type: 'checkout.session.completed', object: body as { id: string }, requestId: undefined, idempotencyKey: undefined, at: now }));
  return { writeSet: { guards, inserts, updates }, next };
}

/**
 * Completes an open session whose PaymentIntent has succeeded. Returns the session as it is now
 * (unchanged when there is nothing to do). Safe to call from anywhere, any number of times at once.
 */
export async function completeSessionIfPaid(services: Services, sessionId: string): Promise<CheckoutSessionRow | undefined> {
  return await retryOnConflict(async () => {
    const session = await getCheckoutSessionById(services.db, sessionId);
    if (!session || session.status !== 'open' || session.payment_intent_id === null) return session;
    const intent = await getPaymentIntentById(services.db, session.payment_intent_id);
    if (!intent || intent.status !== 'succeeded') return session;
    const { writeSet, next } = await completionWrites(services, session, 'paid', { payerEmail: intent.receipt_email });
    await commit(services, systemContext({ merchantId: session.merchant_id, livemode: session.livemode }), writeSet, { resourceId: null });
    return next;
  });
}

/** A session whose total is zero (a 100 % discount) completes without a payment, as at Stripe. */
export async function completeWithoutPayment(services: Services, session: CheckoutSessionRow, payerEmail: string | null): Promise<CheckoutSessionRow> {
  const { writeSet, next } = await completionWrites(services, session, 'no_payment_required', { payerEmail });
  await commit(services, systemContext({ merchantId: session.merchant_id, livemode: session.livemode }), writeSet, { resourceId: null });
  return next;
}

/** The API's read of a session: brought up to date with its payment first. */
export async function readCheckoutSession(services: Services, tenant: Tenant, id: string): Promise<CheckoutSessionRow | undefined> {
  const session = await getCheckoutSession(services.db, tenant, id);
  if (!session || session.status !== 'open') return session;
  if (session.payment_intent_id !== null) return (await completeSessionIfPaid(services, id)) ?? session;
  if (session.expires_at <= services.now()) {
    try {
      return await expireSession(services, systemContext(tenant), id, { automatic: true });
    } catch (error) {
      if (error instanceof AppError) return session;
      throw error;
    }
  }
  return session;
}

/**
 * Expires an open session: its unfinished PaymentIntent is canceled first (closed at the channel; if the
 * channel says it was paid meanwhile, the session completes instead), the discount it held is released,
 * and `checkout.session.expired` is written.
 */
export async function expireSession(services: Services, ctx: RequestContext, id: string, options: { automatic: boolean }): Promise<CheckoutSessionRow> {
  const intentToClose = await retryOnConflict(async () => {
    const session = await getCheckoutSession(services.db, ctx.tenant, id);
    if (!session) throw new AppError('resource_missing', { param: 'session', message: `No such checkout.session: '${id}'` });
    if (session.status !== 'open') throw notOpen(session);
    return session.payment_intent_id === null ? undefined : await getPaymentIntentById(services.db, session.payment_intent_id);
  });
  if (intentToClose) await closeIntent(services, ctx.tenant, intentToClose);
  const completed = await completeSessionIfPaid(services, id);
  if (completed && completed.status === 'complete') {
    if (options.automatic) return completed;
    throw notOpen(completed);
  }
  return await retryOnConflict(async () => {
    const session = await getCheckoutSession(services.db, ctx.tenant, id);
    if (!session) throw new AppError('resource_missing', { param: 'session', message: `No such checkout.session: '${id}'` });
    if (session.status !== 'open') throw notOpen(session);
    if (session.payment_intent_id !== null) {
      const intent = await getPaymentIntentById(services.db, session.payment_intent_id);
      if (intent && (intent.status === 'processing' || intent.status === 'requires_capture' || intent.status === 'succeeded')) {
        throw new AppError('checkout_session_payment_in_progress', { message: 'A payment for this Checkout Session is being processed; it cannot be expired now.' });
      }
      if (intent && intent.status !== 'canceled') throw new VersionConflict('intent still open');
    }
    const now = services.now();
    const next: CheckoutSessionRow = { ...session, status: 'expired', expired_at: now, version: session.version + 1 };
    const held = await heldRedemptionForSession(services.db, session.id);
    const body = await serializeSession(services, next);
    const scope = ctx.idempotency;
    await commit(
      services,
      ctx,
      {
        guards: [{ table: 'checkout_sessions', id, version: session.version }],
        updates: [sessionUpdate(next), ...(held ? [{ table: 'coupon_redemptions' as const, key: { id: held.id }, set: { status: 'released' } }] : []), ...(scope ? [scope.complete({ status: 200, body })] : [])],
        inserts: [eventRow({ tenant: ctx.tenant, type: 'checkout.session.expired', object: body as { id: string }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now })],
      },
      { resourceId: id },
    );
    if (scope) scope.completed = true;
    return next;
  }, 20);
}

/** Cancels a session's unfinished PaymentIntent (closing it at the channel). Nothing to do for a final one. */
export async function closeIntent(services: Services, tenant: Tenant, intent: PaymentIntentRow): Promise<void> {
  if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(intent.status)) return;
  try {
    await cancelPaymentIntent(services, systemContext(tenant), intent.id, { reason: 'abandoned', allowedStatuses: ['requires_payment_method', 'requires_confirmation', 'requires_action'] });
  } catch (error) {
    // Someone else moved it meanwhile (paid, canceled, in flight): the caller re-reads and decides.
    if (!(error instanceof AppError)) throw error;
  }
}

export function notOpen(session: CheckoutSessionRow): AppError {
  return session.status === 'expired'
    ? new AppError('checkout_session_expired', { message: `Checkout Session ${session.id} has expired.` })
    : new AppError('checkout_session_completed', { message: `Checkout Session ${session.id} is already complete.` });
}

export interface CheckoutSweepReport {
  readonly completed: number;
  readonly expired: number;
}

/** One pass of the sweeper: complete sessions whose payment succeeded, expire sessions that ran out. */
export async function sweepCheckoutSessions(services: Services, options: { limit: number }): Promise<CheckoutSweepReport> {
  let completed = 0;
  let expired = 0;
  for (const session of await openSessionsWithPayment(services.db, options)) {
    const after = await completeSessionIfPaid(services, session.id);
    if (after?.status === 'complete') completed += 1;
  }
  for (const session of await sessionsDueForExpiry(services.db, { now: services.now(), limit: options.limit })) {
    try {
      const after = await expireSession(services, systemContext({ merchantId: session.merchant_id, livemode: session.livemode }), session.id, { automatic: true });
      if (after.status === 'expired') expired += 1;
    } catch (error) {
      // A payment still in flight keeps the session open until its outcome is known.
      if (!(error instanceof AppError)) throw error;
    }
  }
  return { completed, expired };
}

