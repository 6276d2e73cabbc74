/** /v1/checkout/sessions — Stripe-compatible Checkout Sessions (mode=payment, hosted). */
import type { FastifyInstance } from 'fastify';
import { AppError, parseMetadata } from '../../../kernel/index.ts';
import { createCheckoutSession, expireSession, readCheckoutSession, serializeSession, type DiscountChoice, type LineItemInput, type Services } from '../../../flows/index.ts';
import { findCheckoutSessionMode, getLineItems, lineItemViews, listCheckoutSessions, serializeLineItem, type CheckoutSessionRow } from '../../../checkout/index.ts';
import { runMutation } from '../../idempotent.ts';
import { expandSchema, idParam, listQuerySchema, listResponse, metadataSchema, parseAmount, parseListParams, requireCurrency, type ListQuery } from '../../params.ts';
import { missingObject, tenantOf } from './payment-intents.ts';

const tags = ['Checkout Sessions'];
const text = (maxLength: number) => ({ type: 'string', maxLength }) as const;

const lineItemSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    price: text(128),
    price_data: {
      type: 'object',
      additionalProperties: false,
      required: ['currency'],
      properties: {
        currency: text(3),
        unit_amount: { type: 'integer' },
        unit_amount_decimal: { type: 'string', maxLength: 20, pattern: '^[0-9]+$' },
        product: text(128),
        product_data: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 250 }, description: text(1000), images: { type: 'array', items: text(2048), maxItems: 8 }, metadata: metadataSchema },
        },
        tax_behavior: { type: 'string', enum: ['exclusive', 'inclusive', 'unspecified'] },
      },
    },
    quantity: { type: 'integer' },
  },
} as const;

const createBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { type: 'string', enum: ['payment', 'setup', 'subscription'] },
    line_items: { type: 'array', items: lineItemSchema, maxItems: 100 },
    success_url: text(5000),
    cancel_url: text(5000),
    expires_at: { type: 'integer' },
    allow_promotion_codes: { type: 'boolean' },
    discounts: { type: 'array', maxItems: 1, items: { type: 'object', additionalProperties: false, properties: { coupon: text(128), promotion_code: text(128) } } },
    payment_method_types: { type: 'array', items: text(40), minItems: 1, maxItems: 10 },
    allowed_payment_method_types: { type: 'array', items: text(40), minItems: 1, maxItems: 10, description: 'The current name of payment_method_types (stripe-node 23).' },
    customer: text(128),
    customer_email: text(800),
    locale: { type: 'string', maxLength: 10, pattern: '^(auto|[a-z]{2,3}(-[A-Za-z0-9]{2,4})?)$' },
    metadata: metadataSchema,
    client_reference_id: { type: 'string', minLength: 1, maxLength: 200 },
    currency: text(3),
    ui_mode: { type: 'string', enum: ['hosted'] },
    payment_intent_data: {
      type: 'object',
      additionalProperties: false,
      properties: { description: text(1000), statement_descriptor: text(22), metadata: metadataSchema },
    },
    expand: expandSchema,
  },
} as const;

interface LineItemBody {
  price?: string;
  price_data?: { currency: string; unit_amount?: number; unit_amount_decimal?: string; product?: string; product_data?: { name: string; description?: string } };
  quantity?: number;
}

interface CreateBody {
  mode?: string;
  line_items?: LineItemBody[];
  success_url?: string;
  cancel_url?: string;
  expires_at?: number;
  allow_promotion_codes?: boolean;
  discounts?: { coupon?: string; promotion_code?: string }[];
  payment_method_types?: string[];
  allowed_payment_method_types?: string[];
  customer?: string;
  customer_email?: string;
  locale?: string;
  metadata?: unknown;
  client_reference_id?: string;
  currency?: string;
  payment_intent_data?: { description?: string; statement_descriptor?: string; metadata?: unknown };
}

function lineItem(body: LineItemBody, i: number): LineItemInput {
  const param = `line_items[${i}]`;
  if (body.price !== undefined) throw new AppError('parameter_invalid', { param: `${param}[price]`, message: 'Fenpay has no Price objects: describe the item with price_data.' });
  const data = body.price_data;
  if (data === undefined) throw new AppError('parameter_missing', { param: `${param}[price_data]`, message: `Missing required param: ${param}[price_data].` });
  if (data.product !== undefined) throw new AppError('parameter_invalid', { param: `${param}[price_data][product]`, message: 'Fenpay has no Product objects: use price_data[product_data].' });
  if (data.product_data === undefined) throw new AppError('parameter_missing', { param: `${param}[price_data][product_data]`, message: `Missing required param: ${param}[price_data][product_data].` });
  if (data.unit_amount !== undefined && data.unit_amount_decimal !== undefined) {
    throw new AppError('parameter_invalid', { param: `${param}[price_data][unit_amount_decimal]`, message: 'You may only specify one of unit_amount and unit_amount_decimal.' });
  }
  const raw = data.unit_amount ?? (data.unit_amount_decimal === undefined ? undefined : Number(data.unit_amount_decimal));
  if (raw === undefined) throw new AppError('parameter_missing', { param: `${param}[price_data][unit_amount]`, message: `Missing required param: ${param}[price_data][unit_amount].` });
  const unitAmount = parseAmount(raw, `${param}[price_data][unit_amount]`)!;
  const quantity = body.quantity;
  if (quantity === undefined) throw new AppError('parameter_missing', { param: `${param}[quantity]`, message: `Missing required param: ${param}[quantity].` });
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > 999_999) throw new AppError('parameter_invalid_integer', { param: `${param}[quantity]`, message: 'Quantity must be an integer from 1 to 999999.' });
  return { name: data.product_data.name, description: data.product_data.description, unitAmount, quantity, currency: requireCurrency(data.currency, `${param}[price_data][currency]`) };
}

function discountChoice(discounts: CreateBody['discounts']): DiscountChoice | undefined {
  const first = discounts?.[0];
  if (first === undefined) return undefined;
  if ((first.coupon === undefined) === (first.promotion_code === undefined)) {
    throw new AppError('parameter_invalid', { param: 'discounts[0]', message: 'Each discount needs exactly one of coupon or promotion_code.' });
  }
  return first.coupon !== undefined ? { coupon: first.coupon } : { promotionCode: first.promotion_code! };
}

export async function checkoutSessionRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  const missingSession = async (tenant: { merchantId: string; livemode: boolean }, id: string) =>
    missingObject({ kind: 'checkout.session', param: 'session', id, tenant, otherMode: await findCheckoutSessionMode(services.db, tenant.merchantId, id) });

  app.post<{ Body: CreateBody }>('/checkout/sessions', { schema: { tags, summary: 'Create a Checkout Session (mode=payment)', body: createBody } }, async (request, reply) => {
    const body = request.body ?? {};
    if (body.mode === undefined) throw new AppError('parameter_missing', { param: 'mode', message: 'Missing required param: mode.' });
    if (body.mode !== 'payment') throw new AppError('parameter_invalid', { param: 'mode', message: `Fenpay supports mode=payment only (got ${body.mode}).` });
    if (body.success_url === undefined) throw new AppError('parameter_missing', { param: 'success_url', message: 'Missing required param: success_url.' });
    if (body.payment_method_types !== undefined && body.allowed_payment_method_types !== undefined) {
      throw new AppError('parameter_invalid', { param: 'allowed_payment_method_types', message: 'Pass allowed_payment_method_types or payment_method_types, not both.' });
    }
    const lineItems = (body.line_items ?? []).map(lineItem);
    if (body.currency !== undefined && lineItems.some((item) => item.currency !== requireCurrency(body.currency, 'currency'))) {
      throw new AppError('parameter_invalid', { param: 'currency', message: 'currency must match the line items.' });
    }
    const email = body.customer_email;
    if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email)) throw new AppError('parameter_invalid', { param: 'customer_email', message: `Invalid email address: ${email}` });
    const intentData = body.payment_intent_data;
    const intentMetadata = intentData?.metadata === undefined ? undefined : parseMetadata(intentData.metadata, 'payment_intent_data[metadata]');
    const input = {
      lineItems,
      successUrl: body.success_url,
      cancelUrl: body.cancel_url,
      expiresAt: body.expires_at === undefined ? undefined : new Date(body.expires_at * 1000),
      allowPromotionCodes: body.allow_promotion_codes ?? false,
      discounts: discountChoice(body.discounts),
      paymentMethodTypes: body.allowed_payment_method_types ?? body.payment_method_types,
      customerId: body.customer,
      customerEmail: email,
      locale: body.locale,
      metadata: parseMetadata(body.metadata),
      clientReferenceId: body.client_reference_id,
      paymentIntentData:
        intentData === undefined
          ? undefined
          : {
              ...(intentData.description === undefined ? {} : { description: intentData.description }),
              ...(intentData.statement_descriptor === undefined ? {} : { statementDescriptor: intentData.statement_descriptor }),
              ...(intentMetadata ? { metadata: intentMetadata } : {}),
            },
    };
    await runMutation(services, request, reply, (ctx) => createCheckoutSession(services, ctx, input));
  });

  app.get<{ Params: { id: string } }>('/checkout/sessions/:id', { schema: { tags, summary: 'Retrieve a Checkout Session', params: idParam } }, async (request) => {
    const tenant = tenantOf(request.principal);
    const row = await readCheckoutSession(services, tenant, request.params.id);
    if (!row) throw await missingSession(tenant, request.params.id);
    return await serializeSession(services, row);
  });

  app.post<{ Params: { id: string } }>(
    '/checkout/sessions/:id/expire',
    { schema: { tags, summary: 'Expire an open Checkout Session', params: idParam, body: { type: 'object', additionalProperties: false, properties: { expand: expandSchema } } } },
    async (request, reply) => {
      const tenant = tenantOf(request.principal);
      await runMutation(services, request, reply, async (ctx) => {
        const row = await expireSession(services, ctx, request.params.id, { automatic: false }).catch(async (error: unknown) => {
          if (error instanceof AppError && error.code === 'resource_missing') throw await missingSession(tenant, request.params.id);
          throw error;
        });
        return await serializeSession(services, row);
      });
    },
  );

  app.get<{ Params: { id: string }; Querystring: ListQuery }>(
    '/checkout/sessions/:id/line_items',
    { schema: { tags, summary: "List a Checkout Session's line items", params: idParam, querystring: { type: 'object', additionalProperties: false, properties: listQuerySchema } } },
    async (request) => {
      const tenant = tenantOf(request.principal);
      const row = await readCheckoutSession(services, tenant, request.params.id);
      if (!row) throw await missingSession(tenant, request.params.id);
      const params = parseListParams(request.query);
      const views = lineItemViews(row, await getLineItems(services.db, row.id));
      let start = 0;
      let end = views.length;
      if (params.startingAfter !== undefined) {
        const at = views.findIndex((v) => v.row.id === params.startingAfter);
        if (at < 0) throw new AppError('resource_missing', { param: 'starting_after', message: `No such line item: '${params.startingAfter}'` });
        start = at + 1;
      }
      if (params.endingBefore !== undefined) {
        const at = views.findIndex((v) => v.row.id === params.endingBefore);
        if (at < 0) throw new AppError('resource_missing', { param: 'ending_before', message: `No such line item: '${params.endingBefore}'` });
        end = at;
        start = Math.max(0, end - params.limit);
      }
      const page = views.slice(start, Math.min(end, start + params.limit));
      const hasMore = params.endingBefore !== undefined ? start > 0 : start + params.limit < end;
      return listResponse(`/v1/checkout/sessions/${row.id}/line_items`, page.map((v) => serializeLineItem(v, row.created_at, row.livemode)), hasMore);
    },
  );

  app.get<{ Querystring: ListQuery & { payment_intent?: string; status?: string; customer?: string } }>(
    '/checkout/sessions',
    {
      schema: {
        tags,
        summary: 'List Checkout Sessions',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...listQuerySchema, payment_intent: text(128), status: { type: 'string', enum: ['open', 'complete', 'expired'] }, customer: text(128) },
        },
      },
    },
    async (request) => {
      const tenant = tenantOf(request.principal);
      const page = await listCheckoutSessions(services.db, tenant, { ...parseListParams(request.query), paymentIntentId: request.query.payment_intent, status: request.query.status, customerId: request.query.customer });
      // Open sessions are brought up to date with their payment before they are shown.
      const rows: CheckoutSessionRow[] = await Promise.all(page.data.map(async (row) => (row.status === 'open' ? ((await readCheckoutSession(services, tenant, row.id)) ?? row) : row)));
      return listResponse('/v1/checkout/sessions', await Promise.all(rows.map((row) => serializeSession(services, row))), page.hasMore);
    },
  );
}
