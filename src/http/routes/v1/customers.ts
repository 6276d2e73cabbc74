/** /v1/customers — Stripe-compatible. */
import type { FastifyInstance } from 'fastify';
import { AppError, parseMetadata } from '../../../kernel/index.ts';
import { createCustomer, deleteCustomer, updateCustomer, type CustomerFields, type Services } from '../../../flows/index.ts';
import { findCustomerMode, getCustomer, listCustomers, serializeCustomer } from '../../../customers/index.ts';
import { runMutation } from '../../idempotent.ts';
import { expandSchema, idParam, listQuerySchema, listResponse, metadataSchema, nullable, parseListParams, type ListQuery } from '../../params.ts';
import { missingObject, tenantOf } from './payment-intents.ts';

const tags = ['Customers'];

const customerBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    email: { type: 'string', maxLength: 512 },
    name: { type: 'string', maxLength: 256 },
    phone: { type: 'string', maxLength: 20 },
    description: { type: 'string', maxLength: 350 },
    address: {
      anyOf: [
        { type: 'object', additionalProperties: false, properties: Object.fromEntries(['city', 'country', 'line1', 'line2', 'postal_code', 'state'].map((k) => [k, { type: 'string', maxLength: 200 }])) },
        { type: 'string', maxLength: 0 },
      ],
    },
    metadata: metadataSchema,
    payment_method: { type: 'string', maxLength: 128 },
    invoice_settings: { type: 'object', additionalProperties: false, properties: { default_payment_method: { type: 'string', maxLength: 128 } } },
    expand: expandSchema,
  },
} as const;

interface CustomerBody {
  email?: string;
  name?: string;
  phone?: string;
  description?: string;
  address?: Record<string, string> | string;
  metadata?: unknown;
  invoice_settings?: { default_payment_method?: string };
  payment_method?: string;
}

function fields(body: CustomerBody): CustomerFields {
  const address = body.address === undefined ? undefined : typeof body.address === 'string' ? null : body.address;
  const email = nullable(body.email);
  if (email && !/^[^\s@]+@[^\s@]+$/.test(email)) throw new AppError('parameter_invalid', { param: 'email', message: `Invalid email address: ${email}` });
  return {
    email,
    name: nullable(body.name),
    phone: nullable(body.phone),
    description: nullable(body.description),
    address,
    metadata: parseMetadata(body.metadata),
    defaultPaymentMethod: nullable(body.invoice_settings?.default_payment_method),
  };
}

export async function customerRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  app.post<{ Body: CustomerBody }>('/customers', { schema: { tags, summary: 'Create a Customer', body: customerBody } }, async (request, reply) => {
    const input = { ...fields(request.body ?? {}), paymentMethod: request.body?.payment_method };
    await runMutation(services, request, reply, (ctx) => createCustomer(services, ctx, input));
  });

  app.get<{ Params: { id: string } }>('/customers/:id', { schema: { tags, summary: 'Retrieve a Customer', params: idParam } }, async (request) => {
    const tenant = tenantOf(request.principal);
    const row = await getCustomer(services.db, tenant, request.params.id, { includeDeleted: true });
    if (!row) throw missingObject({ kind: 'customer', param: 'id', id: request.params.id, tenant, otherMode: await findCustomerMode(services.db, tenant.merchantId, request.params.id) });
    return serializeCustomer(row);
  });

  app.post<{ Params: { id: string }; Body: CustomerBody }>('/customers/:id', { schema: { tags, summary: 'Update a Customer', params: idParam, body: customerBody } }, async (request, reply) => {
    // Stripe takes `payment_method` on create only; on update it would be silently ignored.
    if (request.body?.payment_method !== undefined) throw new AppError('parameter_unknown', { param: 'payment_method', message: 'Received unknown parameter: payment_method' });
    const input = fields(request.body ?? {});
    await runMutation(services, request, reply, (ctx) => updateCustomer(services, ctx, request.params.id, input));
  });

  app.delete<{ Params: { id: string } }>('/customers/:id', { schema: { tags, summary: 'Delete a Customer', params: idParam } }, async (request, reply) => {
    await runMutation(services, request, reply, (ctx) => deleteCustomer(services, ctx, request.params.id));
  });

  app.get<{ Querystring: ListQuery & { email?: string } }>(
    '/customers',
    { schema: { tags, summary: 'List Customers', querystring: { type: 'object', additionalProperties: false, properties: { ...listQuerySchema, email: { type: 'string', maxLength: 512 } } } } },
    async (request) => {
      const page = await listCustomers(services.db, tenantOf(request.principal), { ...parseListParams(request.query), email: request.query.email });
      return listResponse('/v1/customers', page.data.map(serializeCustomer), page.hasMore);
    },
  );
}
