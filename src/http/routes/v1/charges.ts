/**
 * /v1/charges — read-only: each payment attempt as Stripe's Charge, with Fenpay's fields saying which
 * channel and channel account served it and the routing decision that chose them.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../../kernel/index.ts';
import { chargeObject, type Services } from '../../../flows/index.ts';
import { getAttempt, getPaymentIntent } from '../../../payments/index.ts';
import { idParam, listResponse } from '../../params.ts';
import { tenantOf } from './payment-intents.ts';

const tags = ['Charges'];

export async function chargeRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  app.get<{ Params: { id: string } }>('/charges/:id', { schema: { tags, summary: 'Retrieve a Charge (a payment attempt)', params: idParam } }, async (request) => {
    const tenant = tenantOf(request.principal);
    const attempt = await getAttempt(services.db, request.params.id);
    const intent = attempt && attempt.merchant_id === tenant.merchantId && attempt.livemode === tenant.livemode ? await getPaymentIntent(services.db, tenant, attempt.payment_intent_id) : undefined;
    if (!attempt || !intent) throw new AppError('resource_missing', { param: 'id', message: `No such charge: '${request.params.id}'` });
    return chargeObject(attempt, intent);
  });

  app.get<{ Querystring: { payment_intent: string } }>(
    '/charges',
    {
      schema: {
        tags,
        summary: 'List the Charges of a PaymentIntent',
        querystring: { type: 'object', additionalProperties: false, required: ['payment_intent'], properties: { payment_intent: { type: 'string', maxLength: 128 }, limit: { type: 'integer', minimum: 1, maximum: 100 } } },
      },
    },
    async (request) => {
      const tenant = tenantOf(request.principal);
      const intent = await getPaymentIntent(services.db, tenant, request.query.payment_intent);
      if (!intent) throw new AppError('resource_missing', { param: 'payment_intent', message: `No such payment_intent: '${request.query.payment_intent}'` });
      const attempts = await services.db.selectFrom('payment_attempts').selectAll().where('payment_intent_id', '=', intent.id).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(100).execute();
      return listResponse('/v1/charges', attempts.map((attempt) => chargeObject(attempt, intent)), false);
    },
  );
}
