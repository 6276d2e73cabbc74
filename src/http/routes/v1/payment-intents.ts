/** /v1/payment_intents — Stripe-compatible. */
import type { FastifyInstance } from 'fastify';
import { AppError, applyMetadata, parseMetadata } from '../../../kernel/index.ts';
import {
  cancelPaymentIntent,
  capturePaymentIntent,
  confirmPaymentIntent,
  createPaymentIntent,
  updatePaymentIntent,
  type PaymentMethodData,
  type Services,
} from '../../../flows/index.ts';
import { findPaymentIntentMode, getPaymentIntent, listPaymentIntents, serializePaymentIntent } from '../../../payments/index.ts';
import { runMutation } from '../../idempotent.ts';
import {
  expandSchema,
  idParam,
  listQuerySchema,
  listResponse,
  metadataSchema,
  nullable,
  parseAmount,
  parseCurrency,
  parseListParams,
  requireAmount,
  requireCurrency,
  type ListQuery,
} from '../../params.ts';

const tags = ['PaymentIntents'];
const text = (maxLength: number) => ({ type: 'string', maxLength }) as const;

const paymentMethodDataSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  description: 'A PaymentMethod made inline, for types without card data (alipay, wechat_pay, unionpay).',
  properties: {
    type: text(40),
    billing_details: {
      type: 'object',
      additionalProperties: false,
      properties: { name: text(256), email: text(512), phone: text(40), address: { type: 'object', additionalProperties: { type: 'string', maxLength: 200 } } },
    },
    metadata: metadataSchema,
  },
} as const;

const paymentMethodOptionsSchema = {
  type: 'object',
  description: 'Per-method options: wechat_pay[client] (web, mobile, ios, android); alipay / wechat_pay / unionpay [fenpay_flow] (qr, page, wap, app, jsapi); wechat_pay[fenpay_openid] for JSAPI.',
  additionalProperties: { type: 'object', additionalProperties: { type: 'string', maxLength: 128 } },
} as const;

interface PaymentMethodDataBody {
  type: string;
  billing_details?: Record<string, unknown>;
  metadata?: unknown;
}

function paymentMethodData(body: PaymentMethodDataBody | undefined): PaymentMethodData | undefined {
  if (body === undefined) return undefined;
  return { type: body.type, billingDetails: body.billing_details, metadata: applyMetadata({}, parseMetadata(body.metadata, 'payment_method_data[metadata]')) };
}

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['amount', 'currency'],
  properties: {
    amount: { type: 'integer', description: 'Amount in the smallest currency unit (e.g. 1099 = $10.99, 500 = ¥500).' },
    currency: { type: 'string', maxLength: 3, description: 'Three-letter ISO 4217 code, lowercase.' },
    capture_method: { type: 'string', enum: ['automatic', 'automatic_async', 'manual'] },
    confirmation_method: { type: 'string', enum: ['automatic', 'manual'] },
    confirm: { type: 'boolean' },
    customer: text(128),
    description: text(1000),
    metadata: metadataSchema,
    payment_method: text(128),
    payment_method_types: { type: 'array', items: text(40), minItems: 1, maxItems: 10 },
    allowed_payment_method_types: { type: 'array', items: text(40), minItems: 1, maxItems: 10, description: 'The current name of payment_method_types (stripe-node 23).' },
    automatic_payment_methods: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' }, allow_redirects: { type: 'string', enum: ['always', 'never'] } } },
    receipt_email: text(800),
    return_url: text(2048),
    statement_descriptor: text(22),
    payment_method_data: paymentMethodDataSchema,
    payment_method_options: paymentMethodOptionsSchema,
    expand: expandSchema,
  },
} as const;

interface CreateBody {
  amount?: number;
  currency?: string;
  capture_method?: 'automatic' | 'automatic_async' | 'manual';
  confirmation_method?: 'automatic' | 'manual';
  confirm?: boolean;
  customer?: string;
  description?: string;
  metadata?: unknown;
  payment_method?: string;
  payment_method_types?: string[];
  allowed_payment_method_types?: string[];
  receipt_email?: string;
  return_url?: string;
  statement_descriptor?: string;
  payment_method_data?: PaymentMethodDataBody;
  payment_method_options?: Record<string, Record<string, string>>;
}

const updateBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    amount: { type: 'integer' },
    currency: { type: 'string', maxLength: 3 },
    capture_method: { type: 'string', enum: ['automatic', 'automatic_async', 'manual'] },
    customer: text(128),
    description: text(1000),
    metadata: metadataSchema,
    payment_method: text(128),
    payment_method_types: { type: 'array', items: text(40), minItems: 1, maxItems: 10 },
    allowed_payment_method_types: { type: 'array', items: text(40), minItems: 1, maxItems: 10, description: 'The current name of payment_method_types (stripe-node 23).' },
    receipt_email: text(800),
    statement_descriptor: text(22),
    expand: expandSchema,
  },
} as const;

const confirmBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    payment_method: text(128),
    return_url: text(2048),
    receipt_email: text(800),
    payment_method_data: paymentMethodDataSchema,
    payment_method_options: paymentMethodOptionsSchema,
    expand: expandSchema,
  },
} as const;

const captureBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    amount_to_capture: { type: 'integer' },
    final_capture: { type: 'boolean' },
    metadata: metadataSchema,
    expand: expandSchema,
  },
} as const;

const cancelBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cancellation_reason: { type: 'string', enum: ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'] },
    expand: expandSchema,
  },
} as const;

/** Stripe renamed `payment_method_types` to `allowed_payment_method_types`; both are accepted, not together. */
function paymentMethodTypes(body: { payment_method_types?: string[]; allowed_payment_method_types?: string[] }): string[] | undefined {
  if (body.payment_method_types !== undefined && body.allowed_payment_method_types !== undefined) {
    throw new AppError('parameter_invalid', { param: 'allowed_payment_method_types', message: 'Pass either payment_method_types or allowed_payment_method_types, not both.' });
  }
  return body.allowed_payment_method_types ?? body.payment_method_types;
}

function captureMethodOf(value: string | undefined): 'automatic' | 'manual' | undefined {
  if (value === undefined) return undefined;
  return value === 'manual' ? 'manual' : 'automatic';
}

function checkReturnUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new AppError('parameter_invalid', { param: 'return_url', message: 'Invalid return_url: must be an absolute http(s) URL.' });
  }
  return value;
}

export async function paymentIntentRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  app.post<{ Body: CreateBody }>('/payment_intents', { schema: { tags, summary: 'Create a PaymentIntent', body: createBody } }, async (request, reply) => {
    const body = request.body ?? {};
    const input = {
      amount: requireAmount(body.amount),
      currency: requireCurrency(body.currency),
      captureMethod: captureMethodOf(body.capture_method) ?? 'automatic',
      confirmationMethod: body.confirmation_method ?? 'automatic',
      paymentMethodTypes: paymentMethodTypes(body) ?? ['card'],
      paymentMethodId: body.payment_method,
      customerId: body.customer,
      description: body.description,
      receiptEmail: body.receipt_email,
      statementDescriptor: body.statement_descriptor,
      returnUrl: checkReturnUrl(body.return_url),
      metadata: parseMetadata(body.metadata),
      confirm: body.confirm ?? false,
      paymentMethodData: paymentMethodData(body.payment_method_data),
      paymentMethodOptions: body.payment_method_options,
    };
    await runMutation(services, request, reply, (ctx) => createPaymentIntent(services, ctx, input));
  });

  app.get<{ Params: { id: string }; Querystring: { client_secret?: string; expand?: string[] } }>(
    '/payment_intents/:id',
    { schema: { tags, summary: 'Retrieve a PaymentIntent', params: idParam, querystring: { type: 'object', additionalProperties: false, properties: { client_secret: text(200), expand: expandSchema } } } },
    async (request) => {
      const tenant = tenantOf(request.principal);
      const row = await getPaymentIntent(services.db, tenant, request.params.id);
      if (!row) throw await missingIntent(services, tenant, request.params.id);
      return serializePaymentIntent(row);
    },
  );

  app.post<{ Params: { id: string }; Body: CreateBody }>('/payment_intents/:id', { schema: { tags, summary: 'Update a PaymentIntent', params: idParam, body: updateBody } }, async (request, reply) => {
    const body = request.body ?? {};
    const input = {
      amount: parseAmount(body.amount),
      currency: parseCurrency(body.currency),
      captureMethod: captureMethodOf(body.capture_method),
      paymentMethodId: body.payment_method,
      paymentMethodTypes: paymentMethodTypes(body),
      customerId: body.customer,
      description: nullable(body.description),
      receiptEmail: nullable(body.receipt_email),
      statementDescriptor: nullable(body.statement_descriptor),
      metadata: parseMetadata(body.metadata),
    };
    await runMutation(services, request, reply, (ctx) => updatePaymentIntent(services, ctx, request.params.id, input));
  });

  app.post<{ Params: { id: string }; Body: Pick<CreateBody, 'payment_method' | 'return_url' | 'receipt_email' | 'payment_method_data' | 'payment_method_options'> }>(
    '/payment_intents/:id/confirm',
    { schema: { tags, summary: 'Confirm a PaymentIntent', params: idParam, body: confirmBody } },
    async (request, reply) => {
      const body = request.body ?? {};
      const input = {
        paymentMethodId: body.payment_method,
        returnUrl: checkReturnUrl(body.return_url),
        receiptEmail: body.receipt_email,
        paymentMethodData: paymentMethodData(body.payment_method_data),
        paymentMethodOptions: body.payment_method_options,
      };
      await runMutation(services, request, reply, (ctx) => confirmPaymentIntent(services, ctx, request.params.id, input));
    },
  );

  app.post<{ Params: { id: string }; Body: { amount_to_capture?: number; metadata?: unknown } }>(
    '/payment_intents/:id/capture',
    { schema: { tags, summary: 'Capture a PaymentIntent (fully or partly)', params: idParam, body: captureBody } },
    async (request, reply) => {
      const body = request.body ?? {};
      const input = { amountToCapture: parseAmount(body.amount_to_capture, 'amount_to_capture'), metadata: parseMetadata(body.metadata) };
      await runMutation(services, request, reply, (ctx) => capturePaymentIntent(services, ctx, request.params.id, input));
    },
  );

  app.post<{ Params: { id: string }; Body: { cancellation_reason?: 'duplicate' | 'fraudulent' | 'requested_by_customer' | 'abandoned' } }>(
    '/payment_intents/:id/cancel',
    { schema: { tags, summary: 'Cancel a PaymentIntent', params: idParam, body: cancelBody } },
    async (request, reply) => {
      const reason = request.body?.cancellation_reason;
      await runMutation(services, request, reply, (ctx) => cancelPaymentIntent(services, ctx, request.params.id, { reason }));
    },
  );

  app.get<{ Querystring: ListQuery & { customer?: string } }>(
    '/payment_intents',
    { schema: { tags, summary: 'List PaymentIntents', querystring: { type: 'object', additionalProperties: false, properties: { ...listQuerySchema, customer: text(128) } } } },
    async (request) => {
      const tenant = tenantOf(request.principal);
      const page = await listPaymentIntents(services.db, tenant, { ...parseListParams(request.query), customerId: request.query.customer });
      return listResponse('/v1/payment_intents', page.data.map(serializePaymentIntent), page.hasMore);
    },
  );
}

export function tenantOf(principal: { merchantId: string; livemode: boolean } | undefined): { merchantId: string; livemode: boolean } {
  if (!principal) throw new AppError('api_key_missing');
  return { merchantId: principal.merchantId, livemode: principal.livemode };
}

async function missingIntent(services: Services, tenant: { merchantId: string; livemode: boolean }, id: string): Promise<AppError> {
  return missingObject({ kind: 'payment_intent', param: 'intent', id, tenant, otherMode: await findPaymentIntentMode(services.db, tenant.merchantId, id) });
}

/** 404 for an object this key cannot see, saying so when it exists in the other mode (as Stripe does). */
export function missingObject(input: { kind: string; param: string; id: string; tenant: { livemode: boolean }; otherMode: boolean | undefined }): AppError {
  const { kind, param, id, tenant, otherMode } = input;
  if (otherMode !== undefined && otherMode !== tenant.livemode) {
    return new AppError('resource_missing', {
      param,
      message: `No such ${kind}: '${id}'; a similar object exists in ${otherMode ? 'live' : 'test'} mode, but a ${tenant.livemode ? 'live' : 'test'} mode key was used to make this request.`,
    });
  }
  return new AppError('resource_missing', { param, message: `No such ${kind}: '${id}'` });
}
