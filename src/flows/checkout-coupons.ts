/** Coupons and promotion codes: create, update, delete — Stripe's rules, through the write batcher. */
import { AppError, applyMetadata, newId, randomToken, type MetadataPatch, type Tenant } from '../kernel/index.ts';
import {
  activeCodeExists,
  getCouponById,
  getCouponByPublicId,
  getPromotionCode,
  promotionCodePattern,
  serializeCoupon,
  serializePromotionCode,
  type CouponRow,
  type PromotionCodeRow,
} from '../checkout/index.ts';
import { commit, retryOnConflict, type RequestContext, type Services } from './services.ts';

export interface CouponInput {
  readonly id?: string | undefined;
  readonly name?: string | undefined;
  readonly percentOffBps?: number | undefined;
  readonly amountOff?: bigint | undefined;
  readonly currency?: string | undefined;
  readonly duration: 'once' | 'repeating' | 'forever';
  readonly durationInMonths?: number | undefined;
  readonly maxRedemptions?: number | undefined;
  readonly redeemBy?: Date | undefined;
  readonly metadata?: MetadataPatch | undefined;
}

/** A unique index refused the row (another request created the same public id or active code first). */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: string; constraint?: string; message?: string };
  return e.code === '23505' && (e.constraint === constraint || (e.message ?? '').includes(constraint));
}

export async function createCoupon(services: Services, ctx: RequestContext, input: CouponInput): Promise<Record<string, unknown>> {
  const now = services.now();
  if ((input.percentOffBps === undefined) === (input.amountOff === undefined)) {
    throw new AppError('parameter_missing', { param: 'percent_off', message: 'You must pass exactly one of percent_off or amount_off.' });
  }
  if (input.amountOff !== undefined && input.currency === undefined) {
    throw new AppError('parameter_missing', { param: 'currency', message: 'You must pass currency when passing amount_off.' });
  }
  if (input.percentOffBps !== undefined && input.currency !== undefined) {
    throw new AppError('parameter_invalid', { param: 'currency', message: 'currency is only used with amount_off.' });
  }
  if (input.duration === 'repeating' && input.durationInMonths === undefined) {
    throw new AppError('parameter_missing', { param: 'duration_in_months', message: 'duration_in_months is required when duration is repeating.' });
  }
  if (input.duration !== 'repeating' && input.durationInMonths !== undefined) {
    throw new AppError('parameter_invalid', { param: 'duration_in_months', message: 'duration_in_months is only allowed when duration is repeating.' });
  }
  if (input.redeemBy !== undefined && input.redeemBy <= now) {
    throw new AppError('parameter_invalid', { param: 'redeem_by', message: 'redeem_by must be in the future.' });
  }
  const publicId = input.id ?? randomToken(8);
  if (input.id !== undefined && (await getCouponByPublicId(services.db, ctx.tenant, input.id))) {
    throw new AppError('resource_already_exists', { param: 'id', message: `Coupon already exists: '${input.id}'.` });
  }
  const row: CouponRow = {
    id: newId('coupon'),
    public_id: publicId,
    merchant_id: ctx.tenant.merchantId,
    livemode: ctx.tenant.livemode,
    name: input.name ?? null,
    percent_off_bps: input.percentOffBps ?? null,
    amount_off: input.amountOff ?? null,
    currency: input.amountOff === undefined ? null : (input.currency ?? null),
    duration: input.duration,
    duration_in_months: input.durationInMonths ?? null,
    max_redemptions: input.maxRedemptions ?? null,
    times_redeemed: 0,
    redeem_by: input.redeemBy ?? null,
    metadata: applyMetadata({}, input.metadata),
    deleted: false,
    version: 1,
    created_at: now,
  };
  const body = serializeCoupon(row, now);
  const scope = ctx.idempotency;
  try {
    await commit(services, ctx, { inserts: [{ table: 'coupons', row: { ...row } }], updates: scope ? [scope.complete({ status: 200, body })] : [] }, { resourceId: null });
  } catch (error) {
    if (isUniqueViolation(error, 'coupons_public_id')) throw new AppError('resource_already_exists', { param: 'id', message: `Coupon already exists: '${publicId}'.` });
    throw error;
  }
  if (scope) scope.completed = true;
  return body;
}

async function existingCoupon(services: Services, tenant: Tenant, publicId: string): Promise<CouponRow> {
  const row = await getCouponByPublicId(services.db, tenant, publicId);
  if (!row) throw new AppError('resource_missing', { param: 'id', message: `No such coupon: '${publicId}'` });
  return row;
}

export async function updateCoupon(services: Services, ctx: RequestContext, publicId: string, input: { name?: string | null | undefined; metadata?: MetadataPatch | undefined }): Promise<Record<string, unknown>> {
  return await retryOnConflict(async () => {
    const current = await existingCoupon(services, ctx.tenant, publicId);
    const next: CouponRow = { ...current, name: input.name === undefined ? current.name : input.name, metadata: applyMetadata(current.metadata, input.metadata), version: current.version + 1 };
    const body = serializeCoupon(next, services.now());
    const scope = ctx.idempotency;
    await commit(
      services,
      ctx,
      {
        guards: [{ table: 'coupons', id: current.id, version: current.version }],
        updates: [{ table: 'coupons', key: { id: current.id }, set: { name: next.name, metadata: next.metadata, version: next.version } }, ...(scope ? [scope.complete({ status: 200, body })] : [])],
      },
      { resourceId: null },
    );
    if (scope) scope.completed = true;
    return body;
  });
}

/** Deleting a coupon stops new redemptions; sessions that already applied it keep their discount (as at Stripe). */
export async function deleteCoupon(services: Services, ctx: RequestContext, publicId: string): Promise<Record<string, unknown>> {
  return await retryOnConflict(async () => {
    const current = await existingCoupon(services, ctx.tenant, publicId);
    const body = { id: publicId, object: 'coupon', deleted: true };
    const scope = ctx.idempotency;
    await commit(
      services,
      ctx,
      {
        guards: [{ table: 'coupons', id: current.id, version: current.version }],
        updates: [{ table: 'coupons', key: { id: current.id }, set: { deleted: true, version: current.version + 1 } }, ...(scope ? [scope.complete({ status: 200, body })] : [])],
      },
      { resourceId: null },
    );
    if (scope) scope.completed = true;
    return body;
  });
}

export interface PromotionCodeInput {
  readonly coupon: string;
  readonly code?: string | undefined;
  readonly active?: boolean | undefined;
  readonly expiresAt?: Date | undefined;
  readonly maxRedemptions?: number | undefined;
  readonly firstTimeTransaction?: boolean | undefined;
  readonly minimumAmount?: bigint | undefined;
  readonly minimumAmountCurrency?: string | undefined;
  readonly metadata?: MetadataPatch | undefined;
}

function duplicateCode(code: string): AppError {
  return new AppError('resource_already_exists', { param: 'code', message: `An active promotion code with \`code: ${code}\` already exists.` });
}

export async function createPromotionCode(services: Services, ctx: RequestContext, input: PromotionCodeInput): Promise<Record<string, unknown>> {
  const now = services.now();
  const coupon = await getCouponByPublicId(services.db, ctx.tenant, input.coupon);
  if (!coupon) throw new AppError('resource_missing', { param: 'promotion[coupon]', message: `No such coupon: '${input.coupon}'` });
  const code = input.code ?? randomToken(8).toUpperCase();
  if (!promotionCodePattern.test(code)) {
    throw new AppError('parameter_invalid', { param: 'code', message: 'A promotion code may contain only letters (a-z, A-Z), digits (0-9) and dashes (-), up to 200 characters.' });
  }
  if (input.expiresAt !== undefined && input.expiresAt <= now) throw new AppError('parameter_invalid', { param: 'expires_at', message: 'expires_at must be in the future.' });
  if ((input.minimumAmount === undefined) !== (input.minimumAmountCurrency === undefined)) {
    throw new AppError('parameter_missing', { param: 'restrictions[minimum_amount_currency]', message: 'minimum_amount and minimum_amount_currency go together.' });
  }
  const active = input.active ?? true;
  if (active && (await activeCodeExists(services.db, ctx.tenant, code))) throw duplicateCode(code);
  const row: PromotionCodeRow = {
    id: newId('promotionCode'),
    merchant_id: ctx.tenant.merchantId,
    livemode: ctx.tenant.livemode,
    coupon_id: coupon.id,
    code,
    active,
    expires_at: input.expiresAt ?? null,
    max_redemptions: input.maxRedemptions ?? null,
    times_redeemed: 0,
    first_time_transaction: input.firstTimeTransaction ?? false,
    minimum_amount: input.minimumAmount ?? null,
    minimum_amount_currency: input.minimumAmountCurrency ?? null,
    metadata: applyMetadata({}, input.metadata),
    version: 1,
    created_at: now,
  };
  const body = serializePromotionCode(row, coupon, now);
  const scope = ctx.idempotency;
  try {
    await commit(services, ctx, { inserts: [{ table: 'promotion_codes', row: { ...row } }], updates: scope ? [scope.complete({ status: 200, body })] : [] }, { resourceId: null });
  } catch (error) {
    if (isUniqueViolation(error, 'promotion_codes_active_code')) throw duplicateCode(code);
    throw error;
  }
  if (scope) scope.completed = true;
  return body;
}

export async function updatePromotionCode(services: Services, ctx: RequestContext, id: string, input: { active?: boolean | undefined; metadata?: MetadataPatch | undefined }): Promise<Record<string, unknown>> {
  return await retryOnConflict(async () => {
    const current = await getPromotionCode(services.db, ctx.tenant, id);
    if (!current) throw new AppError('resource_missing', { param: 'id', message: `No such promotion code: '${id}'` });
    const coupon = await getCouponById(services.db, current.coupon_id);
    if (!coupon) throw new AppError('resource_missing', { param: 'id', message: `No such promotion code: '${id}'` });
    if (input.active === true && !current.active && (await activeCodeExists(services.db, ctx.tenant, current.code))) throw duplicateCode(current.code);
    const next: PromotionCodeRow = { ...current, active: input.active ?? current.active, metadata: applyMetadata(current.metadata, input.metadata), version: current.version + 1 };
    const body = serializePromotionCode(next, coupon, services.now());
    const scope = ctx.idempotency;
    try {
      await commit(
        services,
        ctx,
        {
          guards: [{ table: 'promotion_codes', id, version: current.version }],
          updates: [{ table: 'promotion_codes', key: { id }, set: { active: next.active, metadata: next.metadata, version: next.version } }, ...(scope ? [scope.complete({ status: 200, body })] : [])],
        },
        { resourceId: null },
      );
    } catch (error) {
      if (isUniqueViolation(error, 'promotion_codes_active_code')) throw duplicateCode(current.code);
      throw error;
    }
    if (scope) scope.completed = true;
    return body;
  });
}
