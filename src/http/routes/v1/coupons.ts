/** /v1/coupons and /v1/promotion_codes — Stripe-compatible. */
import type { FastifyInstance } from 'fastify';
import { AppError, parseMetadata } from '../../../kernel/index.ts';
import { createCoupon, createPromotionCode, deleteCoupon, updateCoupon, updatePromotionCode, type Services } from '../../../flows/index.ts';
import {
  getCouponById,
  getCouponByPublicId,
  getPromotionCode,
  listCoupons,
  listPromotionCodes,
  parsePercentOff,
  serializeCoupon,
  serializePromotionCode,
} from '../../../checkout/index.ts';
import { runMutation } from '../../idempotent.ts';
import { expandSchema, listQuerySchema, listResponse, metadataSchema, nullable, parseAmount, parseCurrency, parseListParams, type ListQuery } from '../../params.ts';
import { tenantOf } from './payment-intents.ts';

const text = (maxLength: number) => ({ type: 'string', maxLength }) as const;
const couponIdParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;
const promoIdParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_]+$' } } } as const;

const couponCreateBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' },
    name: text(40),
    percent_off: { type: ['number', 'string'], description: 'Up to two decimals, 0 < percent_off ≤ 100.' },
    amount_off: { type: 'integer' },
    currency: text(3),
    duration: { type: 'string', enum: ['once', 'repeating', 'forever'] },
    duration_in_months: { type: 'integer', minimum: 1, maximum: 120 },
    max_redemptions: { type: 'integer', minimum: 1 },
    redeem_by: { type: 'integer' },
    metadata: metadataSchema,
    expand: expandSchema,
  },
} as const;

interface CouponCreateBody {
  id?: string;
  name?: string;
  percent_off?: number | string;
  amount_off?: number;
  currency?: string;
  duration?: 'once' | 'repeating' | 'forever';
  duration_in_months?: number;
  max_redemptions?: number;
  redeem_by?: number;
  metadata?: unknown;
}

const promoCreateBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    promotion: { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { type: 'string', enum: ['coupon'] }, coupon: text(128) } },
    coupon: { ...text(128), description: 'The older name of promotion[coupon].' },
    code: text(200),
    active: { type: 'boolean' },
    expires_at: { type: 'integer' },
    max_redemptions: { type: 'integer', minimum: 1 },
    restrictions: {
      type: 'object',
      additionalProperties: false,
      properties: { first_time_transaction: { type: 'boolean' }, minimum_amount: { type: 'integer' }, minimum_amount_currency: text(3) },
    },
    metadata: metadataSchema,
    expand: expandSchema,
  },
} as const;

interface PromoCreateBody {
  promotion?: { type: 'coupon'; coupon?: string };
  coupon?: string;
  code?: string;
  active?: boolean;
  expires_at?: number;
  max_redemptions?: number;
  restrictions?: { first_time_transaction?: boolean; minimum_amount?: number; minimum_amount_currency?: string };
  metadata?: unknown;
}

export async function couponRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;
  const couponTags = ['Coupons'];
  const promoTags = ['Promotion Codes'];

  app.post<{ Body: CouponCreateBody }>('/coupons', { schema: { tags: couponTags, summary: 'Create a coupon', body: couponCreateBody } }, async (request, reply) => {
    const body = request.body ?? {};
    let percentOffBps: number | undefined;
    if (body.percent_off !== undefined) {
      percentOffBps = parsePercentOff(String(body.percent_off));
      if (percentOffBps === undefined) throw new AppError('parameter_invalid', { param: 'percent_off', message: 'percent_off must be a number greater than 0 and at most 100, with up to two decimals.' });
    }
    const input = {
      id: body.id,
      name: body.name,
      percentOffBps,
      amountOff: parseAmount(body.amount_off, 'amount_off'),
      currency: parseCurrency(body.currency),
      duration: body.duration ?? 'once',
      durationInMonths: body.duration_in_months,
      maxRedemptions: body.max_redemptions,
      redeemBy: body.redeem_by === undefined ? undefined : new Date(body.redeem_by * 1000),
      metadata: parseMetadata(body.metadata),
    };
    await runMutation(services, request, reply, (ctx) => createCoupon(services, ctx, input));
  });

  app.get<{ Params: { id: string } }>('/coupons/:id', { schema: { tags: couponTags, summary: 'Retrieve a coupon', params: couponIdParam } }, async (request) => {
    const row = await getCouponByPublicId(services.db, tenantOf(request.principal), request.params.id);
    if (!row) throw new AppError('resource_missing', { param: 'id', message: `No such coupon: '${request.params.id}'` });
    return serializeCoupon(row, services.now());
  });

  app.post<{ Params: { id: string }; Body: { name?: string; metadata?: unknown } }>(
    '/coupons/:id',
    { schema: { tags: couponTags, summary: 'Update a coupon (name, metadata)', params: couponIdParam, body: { type: 'object', additionalProperties: false, properties: { name: text(40), metadata: metadataSchema, expand: expandSchema } } } },
    async (request, reply) => {
      const input = { name: nullable(request.body?.name), metadata: parseMetadata(request.body?.metadata) };
      await runMutation(services, request, reply, (ctx) => updateCoupon(services, ctx, request.params.id, input));
    },
  );

  app.delete<{ Params: { id: string } }>('/coupons/:id', { schema: { tags: couponTags, summary: 'Delete a coupon', params: couponIdParam } }, async (request, reply) => {
    await runMutation(services, request, reply, (ctx) => deleteCoupon(services, ctx, request.params.id));
  });

  app.get<{ Querystring: ListQuery }>(
    '/coupons',
    { schema: { tags: couponTags, summary: 'List coupons', querystring: { type: 'object', additionalProperties: false, properties: listQuerySchema } } },
    async (request) => {
      const page = await listCoupons(services.db, tenantOf(request.principal), parseListParams(request.query));
      const now = services.now();
      return listResponse('/v1/coupons', page.data.map((row) => serializeCoupon(row, now)), page.hasMore);
    },
  );

  app.post<{ Body: PromoCreateBody }>('/promotion_codes', { schema: { tags: promoTags, summary: 'Create a promotion code', body: promoCreateBody } }, async (request, reply) => {
    const body = request.body ?? {};
    const coupon = body.promotion?.coupon ?? body.coupon;
    if (coupon === undefined) throw new AppError('parameter_missing', { param: 'promotion[coupon]', message: 'Missing required param: promotion[coupon].' });
    const restrictions = body.restrictions ?? {};
    const input = {
      coupon,
      code: body.code,
      active: body.active,
      expiresAt: body.expires_at === undefined ? undefined : new Date(body.expires_at * 1000),
      maxRedemptions: body.max_redemptions,
      firstTimeTransaction: restrictions.first_time_transaction,
      minimumAmount: parseAmount(restrictions.minimum_amount, 'restrictions[minimum_amount]'),
      minimumAmountCurrency: parseCurrency(restrictions.minimum_amount_currency, 'restrictions[minimum_amount_currency]'),
      metadata: parseMetadata(body.metadata),
    };
    await runMutation(services, request, reply, (ctx) => createPromotionCode(services, ctx, input));
  });

  app.get<{ Params: { id: string } }>('/promotion_codes/:id', { schema: { tags: promoTags, summary: 'Retrieve a promotion code', params: promoIdParam } }, async (request) => {
    const tenant = tenantOf(request.principal);
    const row = await getPromotionCode(services.db, tenant, request.params.id);
    const coupon = row && (await getCouponById(services.db, row.coupon_id));
    if (!row || !coupon) throw new AppError('resource_missing', { param: 'id', message: `No such promotion code: '${request.params.id}'` });
    return serializePromotionCode(row, coupon, services.now());
  });

  app.post<{ Params: { id: string }; Body: { active?: boolean; metadata?: unknown } }>(
    '/promotion_codes/:id',
    { schema: { tags: promoTags, summary: 'Update a promotion code (active, metadata)', params: promoIdParam, body: { type: 'object', additionalProperties: false, properties: { active: { type: 'boolean' }, metadata: metadataSchema, expand: expandSchema } } } },
    async (request, reply) => {
      const input = { active: request.body?.active, metadata: parseMetadata(request.body?.metadata) };
      await runMutation(services, request, reply, (ctx) => updatePromotionCode(services, ctx, request.params.id, input));
    },
  );

  app.get<{ Querystring: ListQuery & { active?: boolean; code?: string; coupon?: string } }>(
    '/promotion_codes',
    {
      schema: {
        tags: promoTags,
        summary: 'List promotion codes',
        querystring: { type: 'object', additionalProperties: false, properties: { ...listQuerySchema, active: { type: 'boolean' }, code: text(200), coupon: text(128) } },
      },
    },
    async (request) => {
      const tenant = tenantOf(request.principal);
      let couponId: string | undefined;
      if (request.query.coupon !== undefined) {
        const coupon = await getCouponByPublicId(services.db, tenant, request.query.coupon);
        if (!coupon) return listResponse('/v1/promotion_codes', [], false);
        couponId = coupon.id;
      }
      const page = await listPromotionCodes(services.db, tenant, { ...parseListParams(request.query), active: request.query.active, code: request.query.code, couponId });
      const now = services.now();
      const data = await Promise.all(
        page.data.map(async (row) => {
          const coupon = await getCouponById(services.db, row.coupon_id);
          return coupon ? serializePromotionCode(row, coupon, now) : undefined;
        }),
      );
      return listResponse('/v1/promotion_codes', data.filter((d) => d !== undefined), page.hasMore);
    },
  );
}
