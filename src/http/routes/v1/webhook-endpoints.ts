/**
 * /v1/webhook_endpoints — Stripe-compatible, plus Fenpay extensions: rolling the signing secret with an
 * overlap window, and the delivery log (/v1/webhook_deliveries) with every attempt.
 */
import type { FastifyInstance } from 'fastify';
import { AppError, parseMetadata } from '../../../kernel/index.ts';
import {
  createWebhookEndpoint,
  defaultSecretOverlapSeconds,
  deleteWebhookEndpoint,
  rollWebhookSecret,
  secretOverlapSecondsMax,
  updateWebhookEndpoint,
  type Services,
  type WebhookEndpointFields,
} from '../../../flows/index.ts';
import { findWebhookEndpointMode, getWebhookDelivery, getWebhookEndpoint, listWebhookDeliveries, listWebhookEndpoints, serializeWebhookEndpoint } from '../../../webhooks/index.ts';
import { runMutation } from '../../idempotent.ts';
import { expandSchema, idParam, listQuerySchema, listResponse, metadataSchema, nullable, parseListParams, type ListQuery } from '../../params.ts';
import { missingObject, tenantOf } from './payment-intents.ts';

const tags = ['Webhook endpoints'];

const endpointProperties = {
  url: { type: 'string', minLength: 1, maxLength: 2048, description: 'Where events are POSTed. Live mode: https and a public address.' },
  enabled_events: { type: 'array', items: { type: 'string', maxLength: 100 }, minItems: 1, maxItems: 100, description: 'Event types to send, or ["*"] for all.' },
  description: { type: 'string', maxLength: 5000 },
  metadata: metadataSchema,
  expand: expandSchema,
} as const;

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'enabled_events'],
  properties: {
    ...endpointProperties,
    api_version: { type: 'string', maxLength: 64, description: 'Accepted for compatibility; events use Fenpay\'s API version.' },
    connect: { type: 'boolean', enum: [false], description: 'Connect endpoints are not supported.' },
  },
} as const;

const updateBody = {
  type: 'object',
  additionalProperties: false,
  properties: { ...endpointProperties, disabled: { type: 'boolean', description: 'true disables the endpoint; false enables it again.' } },
} as const;

interface EndpointBody {
  url?: string;
  enabled_events?: string[];
  description?: string;
  metadata?: unknown;
  disabled?: boolean;
}

function fields(body: EndpointBody): WebhookEndpointFields {
  return {
    url: body.url,
    enabledEvents: body.enabled_events,
    description: nullable(body.description),
    metadata: parseMetadata(body.metadata),
    disabled: body.disabled,
  };
}

export async function webhookEndpointRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  const missing = async (request: { principal?: { merchantId: string; livemode: boolean } | undefined }, id: string) => {
    const tenant = tenantOf(request.principal);
    return missingObject({ kind: 'webhook endpoint', param: 'id', id, tenant, otherMode: await findWebhookEndpointMode(services.db, tenant.merchantId, id) });
  };

  app.post<{ Body: EndpointBody }>('/webhook_endpoints', { schema: { tags, summary: 'Create a webhook endpoint', body: createBody } }, async (request, reply) => {
    const body = request.body;
    const input = { ...fields(body), url: body.url!, enabledEvents: body.enabled_events! };
    await runMutation(services, request, reply, (ctx) => createWebhookEndpoint(services, ctx, input));
  });

  app.get<{ Params: { id: string } }>('/webhook_endpoints/:id', { schema: { tags, summary: 'Retrieve a webhook endpoint', params: idParam } }, async (request) => {
    const row = await getWebhookEndpoint(services.db, tenantOf(request.principal), request.params.id);
    if (!row) throw await missing(request, request.params.id);
    return serializeWebhookEndpoint(row);
  });

  app.post<{ Params: { id: string }; Body: EndpointBody }>(
    '/webhook_endpoints/:id',
    { schema: { tags, summary: 'Update a webhook endpoint', params: idParam, body: updateBody } },
    async (request, reply) => {
      const input = fields(request.body ?? {});
      await runMutation(services, request, reply, (ctx) => updateWebhookEndpoint(services, ctx, request.params.id, input));
    },
  );

  app.delete<{ Params: { id: string } }>('/webhook_endpoints/:id', { schema: { tags, summary: 'Delete a webhook endpoint', params: idParam } }, async (request, reply) => {
    await runMutation(services, request, reply, (ctx) => deleteWebhookEndpoint(services, ctx, request.params.id));
  });

  app.get<{ Querystring: ListQuery }>('/webhook_endpoints', { schema: { tags, summary: 'List webhook endpoints', querystring: { type: 'object', additionalProperties: false, properties: listQuerySchema } } }, async (request) => {
    const page = await listWebhookEndpoints(services.db, tenantOf(request.principal), parseListParams(request.query));
    return listResponse('/v1/webhook_endpoints', page.data.map((row) => serializeWebhookEndpoint(row)), page.hasMore);
  });

  app.post<{ Params: { id: string }; Body: { expires_in?: number } }>(
    '/webhook_endpoints/:id/roll_secret',
    {
      schema: {
        tags,
        summary: 'Roll the signing secret (Fenpay extension)',
        description: 'Returns the endpoint with a new `secret`. The old secret keeps signing for `expires_in` seconds (default 24 h, at most 7 days): meanwhile every webhook carries one `v1=` signature per live secret.',
        params: idParam,
        body: { type: 'object', additionalProperties: false, properties: { expires_in: { type: 'integer', minimum: 0, maximum: secretOverlapSecondsMax } } },
      },
    },
    async (request, reply) => {
      const overlap = request.body?.expires_in ?? defaultSecretOverlapSeconds;
      await runMutation(services, request, reply, (ctx) => rollWebhookSecret(services, ctx, request.params.id, overlap));
    },
  );

  app.get<{ Querystring: ListQuery & { webhook_endpoint?: string; event?: string; status?: string } }>(
    '/webhook_deliveries',
    {
      schema: {
        tags,
        summary: 'List webhook deliveries (Fenpay extension)',
        description: 'One delivery per event and endpoint, newest first, each with every attempt (status, latency, response snippet).',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...listQuerySchema,
            webhook_endpoint: { type: 'string', maxLength: 128 },
            event: { type: 'string', maxLength: 128 },
            status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await listWebhookDeliveries(services.db, tenantOf(request.principal), { ...parseListParams(q), endpointId: q.webhook_endpoint, eventId: q.event, status: q.status });
      return listResponse('/v1/webhook_deliveries', page.data, page.hasMore);
    },
  );

  app.get<{ Params: { id: string } }>('/webhook_deliveries/:id', { schema: { tags, summary: 'Retrieve a webhook delivery (Fenpay extension)', params: idParam } }, async (request) => {
    const delivery = await getWebhookDelivery(services.db, tenantOf(request.principal), request.params.id);
    if (!delivery) throw new AppError('resource_missing', { param: 'id', message: `No such webhook delivery: '${request.params.id}'` });
    return delivery;
  });
}
