/** /v1/payment_methods — card PaymentMethods; publishable keys may create them (tokenization). */
import type { FastifyInstance } from 'fastify';
import { AppError, parseMetadata } from '../../../kernel/index.ts';
import { attachPaymentMethod, createPaymentMethod, detachPaymentMethod, type Services } from '../../../flows/index.ts';
import { findPaymentMethodMode, getPaymentMethod, listCustomerPaymentMethods, serializePaymentMethod } from '../../../payment-methods/index.ts';
import { getCustomer } from '../../../customers/index.ts';
import { runMutation } from '../../idempotent.ts';
import { expandSchema, idParam, listQuerySchema, listResponse, metadataSchema, parseListParams, type ListQuery } from '../../params.ts';
import { missingObject, tenantOf } from './payment-intents.ts';

const tags = ['PaymentMethods'];

const address = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(['city', 'country', 'line1', 'line2', 'postal_code', 'state'].map((k) => [k, { type: 'string', maxLength: 200 }])),
} as const;

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { type: 'string', maxLength: 40 },
    card: {
      type: 'object',
      additionalProperties: false,
      required: ['number', 'exp_month', 'exp_year'],
      properties: {
        number: { type: 'string', maxLength: 30 },
        exp_month: { type: 'integer' },
        exp_year: { type: 'integer' },
        cvc: { type: 'string', maxLength: 4, pattern: '^[0-9]{3,4}$' },
      },
    },
    billing_details: {
      type: 'object',
      additionalProperties: false,
      properties: { address, email: { type: 'string', maxLength: 800 }, name: { type: 'string', maxLength: 200 }, phone: { type: 'string', maxLength: 40 } },
    },
    metadata: metadataSchema,
    expand: expandSchema,
  },
} as const;

interface CreateBody {
  type: string;
  card?: { number: string; exp_month: number; exp_year: number; cvc?: string };
  billing_details?: Record<string, unknown>;
  metadata?: unknown;
}

export async function paymentMethodRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  app.post<{ Body: CreateBody }>(
    '/payment_methods',
    { config: { publishable: true }, schema: { tags, summary: 'Create a PaymentMethod (card numbers: test mode, or live mode for merchants that handle card data)', body: createBody } },
    async (request, reply) => {
      const body = request.body;
      const input = {
        type: body.type,
        card: body.card ? { number: body.card.number, expMonth: body.card.exp_month, expYear: body.card.exp_year } : undefined,
        billingDetails: body.billing_details,
        metadata: parseMetadata(body.metadata) ?? undefined,
      };
      await runMutation(services, request, reply, (ctx) => createPaymentMethod(services, ctx, input));
    },
  );

  app.get<{ Params: { id: string } }>('/payment_methods/:id', { schema: { tags, summary: 'Retrieve a PaymentMethod', params: idParam } }, async (request) => {
    const tenant = tenantOf(request.principal);
    const row = await getPaymentMethod(services.db, tenant, request.params.id);
    if (!row) throw missingObject({ kind: 'PaymentMethod', param: 'payment_method', id: request.params.id, tenant, otherMode: await findPaymentMethodMode(services.db, tenant.merchantId, request.params.id) });
    return serializePaymentMethod(row);
  });

  app.post<{ Params: { id: string }; Body: { customer: string } }>(
    '/payment_methods/:id/attach',
    { schema: { tags, summary: 'Attach a PaymentMethod to a Customer', params: idParam, body: { type: 'object', additionalProperties: false, required: ['customer'], properties: { customer: { type: 'string', maxLength: 128 }, expand: expandSchema } } } },
    async (request, reply) => {
      await runMutation(services, request, reply, (ctx) => attachPaymentMethod(services, ctx, { paymentMethodId: request.params.id, customerId: request.body.customer }));
    },
  );

  app.post<{ Params: { id: string } }>(
    '/payment_methods/:id/detach',
    { schema: { tags, summary: 'Detach a PaymentMethod from its Customer', params: idParam, body: { type: 'object', additionalProperties: false, properties: { expand: expandSchema } } } },
    async (request, reply) => {
      await runMutation(services, request, reply, (ctx) => detachPaymentMethod(services, ctx, { paymentMethodId: request.params.id }));
    },
  );

  const listHandler = async (customerId: string | undefined, query: ListQuery & { type?: string }, principal: Parameters<typeof tenantOf>[0]) => {
    if (customerId === undefined) throw new AppError('parameter_missing', { param: 'customer', message: 'Missing required param: customer.' });
    const tenant = tenantOf(principal);
    if (!(await getCustomer(services.db, tenant, customerId))) throw new AppError('resource_missing', { param: 'customer', message: `No such customer: '${customerId}'` });
    const page = await listCustomerPaymentMethods(services.db, tenant, { ...parseListParams(query), customerId, type: query.type });
    return { page, url: `/v1/customers/${customerId}/payment_methods` };
  };

  app.get<{ Querystring: ListQuery & { customer?: string; type?: string } }>(
    '/payment_methods',
    { schema: { tags, summary: "List a Customer's PaymentMethods", querystring: { type: 'object', additionalProperties: false, properties: { ...listQuerySchema, customer: { type: 'string', maxLength: 128 }, type: { type: 'string', maxLength: 40 } } } } },
    async (request) => {
      const { page } = await listHandler(request.query.customer, request.query, request.principal);
      return listResponse('/v1/payment_methods', page.data.map(serializePaymentMethod), page.hasMore);
    },
  );

  app.get<{ Params: { id: string }; Querystring: ListQuery & { type?: string } }>(
    '/customers/:id/payment_methods',
    { schema: { tags, summary: "List a Customer's PaymentMethods", params: idParam, querystring: { type: 'object', additionalProperties: false, properties: { ...listQuerySchema, type: { type: 'string', maxLength: 40 } } } } },
    async (request) => {
      const { page, url } = await listHandler(request.params.id, request.query, request.principal);
      return listResponse(url, page.data.map(serializePaymentMethod), page.hasMore);
    },
  );
}
