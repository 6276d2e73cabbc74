/**
 * Discounts on a Checkout Session: which coupon a code or id names, whether it may be used now, the
 * amounts it gives, and the reservation of one use when the payer pays (so max_redemptions and
 * first-time-only hold when many payers pay at once).
 */
import { AppError, newId, type Tenant } from '../kernel/index.ts';
import type { WriteSet } from '../db/index.ts';
import {
  countHeldRedemptions,
  couponIsValid,
  discountFor,
  findPromotionCodeByCode,
  getCouponById,
  getCouponByPublicId,
  getPromotionCode,
  heldRedemptionForSession,
  payerHasCompletedSession,
  payerHasFirstTimeRedemption,
  type CheckoutSessionRow,
  type CouponRow,
  type PromotionCodeRow,
} from '../checkout/index.ts';
import type { Services } from './services.ts';

/** `discounts[0][coupon]`, `discounts[0][promotion_code]` (API), or a code the payer typed (page). */
export type DiscountChoice = { readonly coupon: string } | { readonly promotionCode: string } | { readonly code: string };

function invalidCode(param: string, code: string): AppError {
  return new AppError('promotion_code_invalid', { param, message: `The promotion code ${code} is not valid.` });
}

/** Checks a coupon (and its promotion code) can be used on this session now; the payer's email when known. */
export async function checkDiscountUsable(
  services: Services,
  tenant: Tenant,
  input: { session: CheckoutSessionRow; coupon: CouponRow; promotionCode: PromotionCodeRow | undefined; param: string; payerEmail: string | null },
): Promise<void> {
  const { session, coupon, promotionCode: code, param } = input;
  const now = services.now();
  const label = code?.code ?? coupon.public_id;
  if (code !== undefined) {
    if (!code.active) throw invalidCode(param, label);
    if (code.expires_at !== null && code.expires_at <= now) throw new AppError('promotion_code_expired', { param, message: `The promotion code ${label} has expired.` });
    if (code.minimum_amount !== null && (code.minimum_amount_currency !== session.currency || session.amount_subtotal < code.minimum_amount)) {
      throw new AppError('promotion_code_minimum_not_met', { param, message: `The promotion code ${label} needs a larger order.` });
    }
  }
  if (coupon.deleted) throw invalidCode(param, label);
  if (coupon.redeem_by !== null && coupon.redeem_by <= now) throw new AppError('promotion_code_expired', { param, message: `The promotion code ${label} has expired.` });
  if (!couponIsValid(coupon, now) || (code?.max_redemptions != null && code.times_redeemed >= code.max_redemptions)) {
    throw new AppError('promotion_code_redemption_limit_reached', { param, message: `The promotion code ${label} has been used up.` });
  }
  if (coupon.currency !== null && coupon.currency !== session.currency) {
    throw new AppError('promotion_code_invalid', { param, message: `The promotion code ${label} cannot be used for a payment in ${session.currency.toUpperCase()}.` });
  }
  if (code?.first_time_transaction && input.payerEmail !== null) {
    if ((await payerHasCompletedSession(services.db, tenant, input.payerEmail)) || (await payerHasFirstTimeRedemption(services.db, tenant, { email: input.payerEmail, exceptSessionId: session.id }))) {
      throw new AppError('promotion_code_first_time_only', { param, message: `The promotion code ${label} is for first-time customers only.` });
    }
  }
}

/** The session with this discount applied (nothing written). */
export async function applyDiscountToSession(
  services: Services,
  tenant: Tenant,
  session: CheckoutSessionRow,
  choice: DiscountChoice,
  options: { param: string },
): Promise<{ session: CheckoutSessionRow; coupon: CouponRow; promotionCode: PromotionCodeRow | undefined }> {
  let coupon: CouponRow | undefined;
  let code: PromotionCodeRow | undefined;
  if ('coupon' in choice) {
    coupon = await getCouponByPublicId(services.db, tenant, choice.coupon);
    if (!coupon) throw new AppError('resource_missing', { param: `${options.param}[coupon]`, message: `No such coupon: '${choice.coupon}'` });
  } else {
    code = 'promotionCode' in choice ? await getPromotionCode(services.db, tenant, choice.promotionCode) : await findPromotionCodeByCode(services.db, tenant, choice.code);
    if (!code) {
      if ('promotionCode' in choice) throw new AppError('resource_missing', { param: `${options.param}[promotion_code]`, message: `No such promotion code: '${choice.promotionCode}'` });
      throw invalidCode(options.param, choice.code);
    }
    coupon = await getCouponById(services.db, code.coupon_id);
    if (!coupon) throw invalidCode(options.param, code.code);
  }
  await checkDiscountUsable(services, tenant, { session, coupon, promotionCode: code, param: options.param, payerEmail: session.payer_email ?? session.customer_email });
  const discount = discountFor(coupon, session.amount_subtotal);
  return {
    session: { ...session, coupon_id: coupon.id, promotion_code_id: code?.id ?? null, amount_discount: discount, amount_total: session.amount_subtotal - discount },
    coupon,
    promotionCode: code,
  };
}

/**
 * The writes that reserve one use of the session's discount for this payment, checked again now. The
 * guards on the coupon and the promotion code serialize every reservation of them, so the counts read
 * here are still true when the reservation commits; a first-time-only use is also held unique per
 * payer by the database. An existing reservation of this session is kept.
 */
export async function reservationWrites(services: Services, session: CheckoutSessionRow, payerEmail: string | null): Promise<WriteSet> {
  if (session.coupon_id === null) return {};
  if (await heldRedemptionForSession(services.db, session.id)) return {};
  const tenant = { merchantId: session.merchant_id, livemode: session.livemode };
  const coupon = await getCouponById(services.db, session.coupon_id);
  const code = session.promotion_code_id === null ? undefined : await getPromotionCode(services.db, tenant, session.promotion_code_id);
  if (!coupon) throw new AppError('promotion_code_invalid', { param: 'promotion_code', message: 'The discount on this order is no longer valid.' });
  const param = 'promotion_code';
  if (code?.first_time_transaction && payerEmail === null) {
    throw new AppError('parameter_missing', { param: 'email', message: 'An email address is needed for a first-time customer discount.' });
  }
  await checkDiscountUsable(services, tenant, { session, coupon, promotionCode: code, param, payerEmail });
  const held = await countHeldRedemptions(services.db, { couponId: coupon.id, promotionCodeId: code?.id ?? null, exceptSessionId: session.id });
  if ((coupon.max_redemptions !== null && held.coupon >= coupon.max_redemptions) || (code?.max_redemptions != null && held.promotionCode >= code.max_redemptions)) {
    throw new AppError('promotion_code_redemption_limit_reached', { param, message: `The promotion code ${code?.code ?? coupon.public_id} has been used up.` });
  }
  return {
    guards: [{ table: 'coupons', id: coupon.id, version: coupon.version }, ...(code ? [{ table: 'promotion_codes' as const, id: code.id, version: code.version }] : [])],
    updates: [
      { table: 'coupons', key: { id: coupon.id }, set: { version: coupon.version + 1 } },
      ...(code ? [{ table: 'promotion_codes' as const, key: { id: code.id }, set: { version: code.version + 1 } }] : []),
    ],
    inserts: [
      {
        table: 'coupon_redemptions',
        row: {
          id: newId('couponRedemption'),
          merchant_id: session.merchant_id,
          livemode: session.livemode,
          coupon_id: coupon.id,
          promotion_code_id: code?.id ?? null,
          session_id: session.id,
          payer_email: payerEmail,
          first_time_only: code?.first_time_transaction ?? false,
          status: 'reserved',
          created_at: services.now(),
        },
      },
    ],
  };
}
