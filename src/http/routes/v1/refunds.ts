/** /v1/refunds — Stripe-compatible. */
import type { FastifyInstance } from 'fastify';
import { AppError, parseMetadata } from '../../../kernel/index.ts';
import { createRefund, type Services } from '../../../flows/index.ts';
import { findRefundMode, getRefund, listRefunds, serializeRefund } from '../../../payments/index.ts';
import { runMutation } from '../../idempotent.ts';
import { expandSchema, idParam, listQuerySchema, listResponse, metadataSchema, parseAmount, parseListParams, type ListQuery } from '../../params.ts';
import { missingObject, tenantOf } from './payment-intents.ts';

const tags = ['Refunds'];

const createBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    payment_intent: { type: 'string', maxLength: 128 },
    charge: { type: 'string', maxLength: 128 },
    amount: { type: 'integer' },
    reason: { type: 'string', enum: ['duplicate', 'fraudulent', 'requested_by_customer'] },
    metadata: metadataSchema,
    expand: expandSchema,
  },
} as const;

interface CreateBody {
  payment_intent?: string;
  charge?: string;
  amount?: number;
  reason?: 'duplicate' | 'fraudulent' | 'requested_by_customer';
  metadata?: unknown;
}

export async function refundRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  app.post<{ Body: CreateBody }>('/refunds', { schema: { tags, summary: 'Create a Refund (full, partial, or one of several)', body: createBody } }, async (request, reply) => {
    const body = request.body ?? {};
    if (body.payment_intent === undefined && body.charge === undefined) {
      throw new AppError('parameter_missing', { param: 'payment_intent', message: 'Missing required param: payment_intent (or charge).' });
    }
    const input = {
      paymentIntentId: body.payment_intent,
      chargeId: body.charge,
      amount: parseAmount(body.amount),
      reason: body.reason,
      metadata: parseMetadata(body.metadata),
    };
    await runMutation(services, request, reply, (ctx) => createRefund(services, ctx, input));
  });

  app.get<{ Params: { id: string } }>('/refunds/:id', { schema: { tags, summary: 'Retrieve a Refund', params: idParam } }, async (request) => {
    const tenant = tenantOf(request.principal);
    const row = await getRefund(services.db, tenant, request.params.id);
    if (!row) throw missingObject({ kind: 'refund', param: 'id', id: request.params.id, tenant, otherMode: await findRefundMode(services.db, tenant.merchantId, request.params.id) });
    return serializeRefund(row);
  });

  app.get<{ Querystring: ListQuery & { payment_intent?: string; charge?: string } }>(
    '/refunds',
    { schema: { tags, summary: 'List Refunds', querystring: { type: 'object', additionalProperties: false, properties: { ...listQuerySchema, payment_intent: { type: 'string', maxLength: 128 }, charge: { type: 'string', maxLength: 128 } } } } },
    async (request) => {
      const page = await listRefunds(services.db, tenantOf(request.principal), { ...parseListParams(request.query), paymentIntentId: request.query.payment_intent, chargeId: request.query.charge });
      return listResponse('/v1/refunds', page.data.map(serializeRefund), page.hasMore);
    },
  );
}
