/** /v1/events — the record of every state change. */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../../kernel/index.ts';
import { redeliverEvent, type Services } from '../../../flows/index.ts';
import { runMutation } from '../../idempotent.ts';
import { getEvent, listEvents } from '../../../events/index.ts';
import { idParam, listQuerySchema, listResponse, parseListParams, type ListQuery } from '../../params.ts';
import { tenantOf } from './payment-intents.ts';

const tags = ['Events'];

export async function eventRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  app.get<{ Params: { id: string } }>('/events/:id', { schema: { tags, summary: 'Retrieve an Event', params: idParam } }, async (request) => {
    const event = await getEvent(services.db, tenantOf(request.principal), request.params.id);
    if (!event) throw new AppError('resource_missing', { param: 'id', message: `No such event: '${request.params.id}'` });
    return event;
  });

  app.post<{ Params: { id: string }; Body: { webhook_endpoint?: string } }>(
    '/events/:id/retry',
    {
      schema: {
        tags,
        summary: 'Redeliver an event to a webhook endpoint',
        description: 'Sends the event to the endpoint again now (what `stripe events resend --webhook-endpoint` asks for). Returns the delivery; its attempts show the outcome.',
        params: idParam,
        body: { type: 'object', additionalProperties: false, required: ['webhook_endpoint'], properties: { webhook_endpoint: { type: 'string', minLength: 1, maxLength: 128 } } },
      },
    },
    async (request, reply) => {
      const endpointId = request.body.webhook_endpoint!;
      await runMutation(services, request, reply, (ctx) => redeliverEvent(services, ctx, request.params.id, endpointId));
    },
  );

  app.get<{ Querystring: ListQuery & { type?: string; types?: string[]; delivery_success?: boolean } }>(
    '/events',
    {
      schema: {
        tags,
        summary: 'List Events',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...listQuerySchema,
            type: { type: 'string', maxLength: 100, description: 'An event type, or a prefix ending in .* (payment_intent.*).' },
            types: { type: 'array', items: { type: 'string', maxLength: 100 }, maxItems: 20 },
            delivery_success: { type: 'boolean', description: 'false: events some webhook endpoint has not accepted (yet); true: events every endpoint accepted.' },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      if (q.type !== undefined && q.types !== undefined) throw new AppError('parameter_invalid', { param: 'types', message: 'You may only specify one of type and types.' });
      const types = q.types ?? (q.type === undefined ? undefined : [q.type]);
      const page = await listEvents(services.db, tenantOf(request.principal), { ...parseListParams(q), types, deliverySuccess: q.delivery_success });
      return listResponse('/v1/events', page.data, page.hasMore);
    },
  );
}
