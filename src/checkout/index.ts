/**
 * Checkout: Checkout Sessions with their line items, coupons, promotion codes and redemptions — rows,
 * their Stripe shapes, queries, and the discount arithmetic. Payments are another room's business: a
 * session only points at its PaymentIntent by id.
 */
import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import { feeForRate, toJsonAmount, unixSeconds, type ListParams, type Page, type Tenant } from '../kernel/index.ts';
import {
  paginate,
  type CheckoutLineItemsTable,
  type CheckoutSessionsTable,
  type CouponRedemptionsTable,
  type CouponsTable,
  type Db,
  type PromotionCodesTable,
} from '../db/index.ts';

export type CheckoutSessionRow = Selectable<CheckoutSessionsTable>;
export type CheckoutLineItemRow = Selectable<CheckoutLineItemsTable>;
export type CouponRow = Selectable<CouponsTable>;
export type PromotionCodeRow = Selectable<PromotionCodesTable>;
export type CouponRedemptionRow = Selectable<CouponRedemptionsTable>;

/** Stripe's bounds for `expires_at`: 30 minutes to 24 hours after creation; 24 hours by default. */
export const sessionLifetimeSecondsMin = 30 * 60;
export const sessionLifetimeSecondsMax = 24 * 3600;

export const sessionLocales = ['auto', 'en', 'zh'] as const;

// ---------------------------------------------------------------------------------------------------
// Discount arithmetic: integer minor units only.

/**
 * The discount a coupon gives on a subtotal, in minor units.
 * - percent_off: subtotal × percent, **rounded half up** to the minor unit (12.5 % of 1999 = 249.875 → 250).
 * - amount_off: the coupon's amount, never more than the subtotal (same currency only; checked by the caller).
 */
export function discountFor(coupon: Pick<CouponRow, 'percent_off_bps' | 'amount_off'>, subtotal: bigint): bigint {
  if (coupon.percent_off_bps !== null) return feeForRate(subtotal, BigInt(coupon.percent_off_bps));
  const off = coupon.amount_off ?? 0n;
  return off > subtotal ? subtotal : off;
}

/**
 * Spreads a session's discount over its line items in proportion to their subtotals: each line gets the
 * floor of its share, and the units left over go one each to the lines with the largest remainders
 * (ties: the earlier line), so the line discounts add up exactly to the session's.
 */
export function allocateDiscount(subtotals: readonly bigint[], discount: bigint): bigint[] {
  const total = subtotals.reduce((a, b) => a + b, 0n);
  if (total === 0n || discount === 0n) return subtotals.map(() => 0n);
  const shares = subtotals.map((s) => (s * discount) / total);
  const remainders = subtotals.map((s, i) => ({ i, r: (s * discount) % total }));
  let left = discount - shares.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of remainders) {
    if (left === 0n) break;
    shares[i] = shares[i]! + 1n;
    left -= 1n;
  }
  return shares;
}

/** Parses Stripe's `percent_off` (a number with up to two decimals, 0 < p ≤ 100) into hundredths of a percent, without floats. */
export function parsePercentOff(text: string): number | undefined {
  const match = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!match) return undefined;
  const bps = Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
  return bps >= 1 && bps <= 10_000 ? bps : undefined;
}

function percentOffNumber(bps: number): number {
  // 1250 → 12.5: built from the decimal text so no binary fraction sneaks in.
  return Number(`${Math.trunc(bps / 100)}.${String(bps % 100).padStart(2, '0')}`);
}

// ---------------------------------------------------------------------------------------------------
// Coupons

export function couponIsValid(coupon: CouponRow, now: Date): boolean {
  if (coupon.deleted) return false;
  if (coupon.redeem_by !== null && coupon.redeem_by <= now) return false;
  if (coupon.max_redemptions !== null && coupon.times_redeemed >= coupon.max_redemptions) return false;
  return true;
}

export function serializeCoupon(row: CouponRow, now: Date): Record<string, unknown> {
  if (row.deleted) return { id: row.public_id, object: 'coupon', deleted: true };
  return {
    id: row.public_id,
    object: 'coupon',
    amount_off: row.amount_off === null ? null : toJsonAmount(row.amount_off),
    applies_to: null,
    created: unixSeconds(row.created_at),
    currency: row.currency,
    currency_options: null,
    duration: row.duration,
    duration_in_months: row.duration_in_months,
    livemode: row.livemode,
    max_redemptions: row.max_redemptions,
    metadata: row.metadata,
    name: row.name,
    percent_off: row.percent_off_bps === null ? null : percentOffNumber(row.percent_off_bps),
    redeem_by: row.redeem_by === null ? null : unixSeconds(row.redeem_by),
    times_redeemed: row.times_redeemed,
    valid: couponIsValid(row, now),
  };
}

export async function getCouponByPublicId(db: Db, tenant: Tenant, publicId: string): Promise<CouponRow | undefined> {
  return await db
    .selectFrom('coupons')
    .selectAll()
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where('public_id', '=', publicId)
    .where('deleted', '=', false)
    .executeTakeFirst();
}

export async function getCouponById(db: Db, id: string): Promise<CouponRow | undefined> {
  return await db.selectFrom('coupons').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listCoupons(db: Db, tenant: Tenant, params: ListParams): Promise<Page<CouponRow>> {
  const query = db.selectFrom('coupons').selectAll().where('merchant_id', '=', tenant.merchantId).where('livemode', '=', tenant.livemode).where('deleted', '=', false);
  return await paginate({
    query,
    table: 'coupons',
    params,
    // Cursors name public ids; the order runs over the internal ones.
    findCursor: (publicId) =>
      db.selectFrom('coupons').select(['created_at', 'id']).where('public_id', '=', publicId).where('merchant_id', '=', tenant.merchantId).where('livemode', '=', tenant.livemode).where('deleted', '=', false).executeTakeFirst(),
  });
}

// ---------------------------------------------------------------------------------------------------
// Promotion codes

/** Valid characters of a customer-facing code (Stripe's rule). */
export const promotionCodePattern = /^[A-Za-z0-9-]{1,200}$/;

export function promotionCodeIsActive(code: PromotionCodeRow, coupon: CouponRow, now: Date): boolean {
  if (!code.active) return false;
  if (code.expires_at !== null && code.expires_at <= now) return false;
  if (code.max_redemptions !== null && code.times_redeemed >= code.max_redemptions) return false;
  return couponIsValid(coupon, now);
}

export function serializePromotionCode(row: PromotionCodeRow, coupon: CouponRow, now: Date): Record<string, unknown> {
  const couponBody = serializeCoupon(coupon, now);
  return {
    id: row.id,
    object: 'promotion_code',
    active: row.active,
    code: row.code,
    // Stripe's current shape (`promotion`) and the older `coupon`, so SDKs of either generation read it.
    coupon: couponBody,
    promotion: { type: 'coupon', coupon: coupon.public_id },
    created: unixSeconds(row.created_at),
    customer: null,
    customer_account: null,
    expires_at: row.expires_at === null ? null : unixSeconds(row.expires_at),
    livemode: row.livemode,
    max_redemptions: row.max_redemptions,
    metadata: row.metadata,
    restrictions: {
      currency_options: {},
      first_time_transaction: row.first_time_transaction,
      minimum_amount: row.minimum_amount === null ? null : toJsonAmount(row.minimum_amount),
      minimum_amount_currency: row.minimum_amount_currency,
    },
    times_redeemed: row.times_redeemed,
  };
}

export async function getPromotionCode(db: Db, tenant: Tenant, id: string): Promise<PromotionCodeRow | undefined> {
  return await db.selectFrom('promotion_codes').selectAll().where('id', '=', id).where('merchant_id', '=', tenant.merchantId).where('livemode', '=', tenant.livemode).executeTakeFirst();
}

/** The promotion code a payer typed: the active one with that code (any case), else the newest. */
export async function findPromotionCodeByCode(db: Db, tenant: Tenant, code: string): Promise<PromotionCodeRow | undefined> {
  return await db
    .selectFrom('promotion_codes')
    .selectAll()
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where(sql<string>`lower(code)`, '=', code.toLowerCase())
    .orderBy('active', 'desc')
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function activeCodeExists(db: Db, tenant: Tenant, code: string): Promise<boolean> {
  const row = await db
    .selectFrom('promotion_codes')
    .select('id')
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where(sql<string>`lower(code)`, '=', code.toLowerCase())
    .where('active', '=', true)
    .executeTakeFirst();
  return row !== undefined;
}

export async function listPromotionCodes(
  db: Db,
  tenant: Tenant,
  params: ListParams & { active?: boolean | undefined; code?: string | undefined; couponId?: string | undefined },
): Promise<Page<PromotionCodeRow>> {
  let query = db.selectFrom('promotion_codes').selectAll().where('merchant_id', '=', tenant.merchantId).where('livemode', '=', tenant.livemode);
  if (params.active !== undefined) query = query.where('active', '=', params.active);
  if (params.code !== undefined) query = query.where(sql<string>`lower(code)`, '=', params.code.toLowerCase());
  if (params.couponId !== undefined) query = query.where('coupon_id', '=', params.couponId);
  return await paginate({
    query,
    table: 'promotion_codes',
    params,
    findCursor: (id) => db.selectFrom('promotion_codes').select(['created_at', 'id']).where('id', '=', id).where('merchant_id', '=', tenant.merchantId).executeTakeFirst(),
  });
}

// ---------------------------------------------------------------------------------------------------
// Redemptions

/** Redemptions that hold a use of the coupon / code: reserved (paying) or redeemed (completed). */
export async function countHeldRedemptions(db: Db, input: { couponId: string; promotionCodeId: string | null; exceptSessionId: string }): Promise<{ coupon: number; promotionCode: number }> {
  const [coupon, code] = await Promise.all([
    db.selectFrom('coupon_redemptions').select(sql<string>`count(*)`.as('n')).where('coupon_id', '=', input.couponId).where('status', '<>', 'released').where('session_id', '<>', input.exceptSessionId).executeTakeFirstOrThrow(),
    input.promotionCodeId === null
      ? Promise.resolve({ n: '0' })
      : db.selectFrom('coupon_redemptions').select(sql<string>`count(*)`.as('n')).where('promotion_code_id', '=', input.promotionCodeId).where('status', '<>', 'released').where('session_id', '<>', input.exceptSessionId).executeTakeFirstOrThrow(),
  ]);
  return { coupon: Number(coupon.n), promotionCode: Number(code.n) };
}

export async function heldRedemptionForSession(db: Db, sessionId: string): Promise<CouponRedemptionRow | undefined> {
  return await db.selectFrom('coupon_redemptions').selectAll().where('session_id', '=', sessionId).where('status', '<>', 'released').executeTakeFirst();
}

/** True when this payer already holds or used a first-time-only discount at this merchant. */
export async function payerHasFirstTimeRedemption(db: Db, tenant: Tenant, input: { email: string; exceptSessionId: string }): Promise<boolean> {
  const row = await db
    .selectFrom('coupon_redemptions')
    .select('id')
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where(sql<string>`lower(payer_email)`, '=', input.email.toLowerCase())
    .where('first_time_only', '=', true)
    .where('status', '<>', 'released')
    .where('session_id', '<>', input.exceptSessionId)
    .executeTakeFirst();
  return row !== undefined;
}

/** True when this payer completed a paid Checkout Session at this merchant before. */
export async function payerHasCompletedSession(db: Db, tenant: Tenant, email: string): Promise<boolean> {
  const row = await db
    .selectFrom('checkout_sessions')
    .select('id')
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where('status', '=', 'complete')
    .where('payment_status', '=', 'paid')
    .where((eb) => eb.or([eb(sql<string>`lower(payer_email)`, '=', email.toLowerCase()), eb(sql<string>`lower(customer_email)`, '=', email.toLowerCase())]))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

// ---------------------------------------------------------------------------------------------------
// Sessions

export function sessionUrl(publicUrl: string, id: string): string {
  return `${publicUrl}/c/pay/${id}`;
}

/** Stripe replaces `{CHECKOUT_SESSION_ID}` in success_url with the session id. */
export function successUrlFor(session: Pick<CheckoutSessionRow, 'success_url' | 'id'>): string {
  return session.success_url.replaceAll('{CHECKOUT_SESSION_ID}', session.id);
}

export function serializeCheckoutSession(
  row: CheckoutSessionRow,
  context: { publicUrl: string; coupon: CouponRow | undefined; now: Date },
): Record<string, unknown> {
  const email = row.payer_email ?? row.customer_email;
  const discounts = row.coupon_id === null || context.coupon === undefined ? [] : [{ coupon: context.coupon.public_id, promotion_code: row.promotion_code_id }];
  return {
    id: row.id,
    object: 'checkout.session',
    adaptive_pricing: null,
    after_expiration: null,
    allow_promotion_codes: row.allow_promotion_codes,
    allowed_payment_method_types: row.payment_method_types,
    amount_subtotal: toJsonAmount(row.amount_subtotal),
    amount_total: toJsonAmount(row.amount_total),
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: row.cancel_url,
    client_reference_id: row.client_reference_id,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: unixSeconds(row.created_at),
    currency: row.currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: row.customer_id,
    customer_creation: 'if_required',
    customer_details: email === null && row.status !== 'complete' ? null : { address: null, email, name: null, phone: null, tax_exempt: 'none', tax_ids: [] },
    customer_email: row.customer_email,
    discounts,
    expires_at: unixSeconds(row.expires_at),
    invoice: null,
    invoice_creation: null,
    livemode: row.livemode,
    locale: row.locale,
    metadata: row.metadata,
    mode: row.mode,
    payment_intent: row.payment_intent_id,
    payment_link: null,
    payment_method_collection: 'if_required',
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: row.payment_method_types,
    payment_status: row.payment_status,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: row.status,
    submit_type: null,
    subscription: null,
    success_url: row.success_url,
    total_details: { amount_discount: toJsonAmount(row.amount_discount), amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted',
    // Stripe: the URL is null once the session is no longer open.
    url: row.status === 'open' ? sessionUrl(context.publicUrl, row.id) : null,
    wallet_options: null,
  };
}

export interface LineItemView {
  readonly row: CheckoutLineItemRow;
  readonly amountSubtotal: bigint;
  readonly amountDiscount: bigint;
  readonly amountTotal: bigint;
}

export function lineItemViews(session: Pick<CheckoutSessionRow, 'amount_discount'>, items: readonly CheckoutLineItemRow[]): LineItemView[] {
  const subtotals = items.map((i) => i.unit_amount * BigInt(i.quantity));
  const discounts = allocateDiscount(subtotals, session.amount_discount);
  return items.map((row, i) => ({ row, amountSubtotal: subtotals[i]!, amountDiscount: discounts[i]!, amountTotal: subtotals[i]! - discounts[i]! }));
}

export function serializeLineItem(view: LineItemView, createdAt: Date, livemode: boolean): Record<string, unknown> {
  const { row } = view;
  return {
    id: row.id,
    object: 'item',
    amount_discount: toJsonAmount(view.amountDiscount),
    amount_subtotal: toJsonAmount(view.amountSubtotal),
    amount_tax: 0,
    amount_total: toJsonAmount(view.amountTotal),
    currency: row.currency,
    description: row.name,
    price: {
      id: row.price_id,
      object: 'price',
      active: false,
      billing_scheme: 'per_unit',
      created: unixSeconds(createdAt),
      currency: row.currency,
      custom_unit_amount: null,
      livemode,
      lookup_key: null,
      metadata: {},
      nickname: null,
      product: row.product_id,
      recurring: null,
      tax_behavior: 'unspecified',
      tiers_mode: null,
      transform_quantity: null,
      type: 'one_time',
      unit_amount: toJsonAmount(row.unit_amount),
      unit_amount_decimal: row.unit_amount.toString(),
    },
    quantity: row.quantity,
  };
}

export async function getCheckoutSession(db: Db, tenant: Tenant, id: string): Promise<CheckoutSessionRow | undefined> {
  return await db.selectFrom('checkout_sessions').selectAll().where('id', '=', id).where('merchant_id', '=', tenant.merchantId).where('livemode', '=', tenant.livemode).executeTakeFirst();
}

/** The page's view: by id alone (the id is the unguessable capability; the page secret guards writes). */
export async function getCheckoutSessionById(db: Db, id: string): Promise<CheckoutSessionRow | undefined> {
  return await db.selectFrom('checkout_sessions').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findCheckoutSessionMode(db: Db, merchantId: string, id: string): Promise<boolean | undefined> {
  const row = await db.selectFrom('checkout_sessions').select('livemode').where('id', '=', id).where('merchant_id', '=', merchantId).executeTakeFirst();
  return row?.livemode;
}

export async function getLineItems(db: Db, sessionId: string): Promise<CheckoutLineItemRow[]> {
  return await db.selectFrom('checkout_line_items').selectAll().where('session_id', '=', sessionId).orderBy('position').execute();
}

export async function listCheckoutSessions(
  db: Db,
  tenant: Tenant,
  params: ListParams & { paymentIntentId?: string | undefined; status?: string | undefined; customerId?: string | undefined },
): Promise<Page<CheckoutSessionRow>> {
  let query = db.selectFrom('checkout_sessions').selectAll().where('merchant_id', '=', tenant.merchantId).where('livemode', '=', tenant.livemode);
  if (params.paymentIntentId !== undefined) query = query.where('payment_intent_id', '=', params.paymentIntentId);
  if (params.status !== undefined) query = query.where('status', '=', params.status);
  if (params.customerId !== undefined) query = query.where('customer_id', '=', params.customerId);
  return await paginate({
    query,
    table: 'checkout_sessions',
    params,
    findCursor: (id) => db.selectFrom('checkout_sessions').select(['created_at', 'id']).where('id', '=', id).where('merchant_id', '=', tenant.merchantId).executeTakeFirst(),
  });
}

/** Open sessions whose time ran out (the sweeper expires them). */
export async function sessionsDueForExpiry(db: Db, options: { now: Date; limit: number }): Promise<CheckoutSessionRow[]> {
  return await db.selectFrom('checkout_sessions').selectAll().where('status', '=', 'open').where('expires_at', '<=', options.now).orderBy('expires_at').limit(options.limit).execute();
}

/** Open sessions with a payment under way (the sweeper completes the ones whose payment succeeded). */
export async function openSessionsWithPayment(db: Db, options: { limit: number }): Promise<CheckoutSessionRow[]> {
  return await db.selectFrom('checkout_sessions').selectAll().where('status', '=', 'open').where('payment_intent_id', 'is not', null).orderBy('created_at').limit(options.limit).execute();
}

export function sessionUpdate(row: CheckoutSessionRow): { table: 'checkout_sessions'; key: { id: string }; set: Record<string, unknown> } {
  return {
    table: 'checkout_sessions',
    key: { id: row.id },
    set: {
      status: row.status,
      payment_status: row.payment_status,
      amount_discount: row.amount_discount,
      amount_total: row.amount_total,
      coupon_id: row.coupon_id,
      promotion_code_id: row.promotion_code_id,
      payer_email: row.payer_email,
      payment_intent_id: row.payment_intent_id,
      completed_at: row.completed_at,
      expired_at: row.expired_at,
      version: row.version,
    },
  };
}
