/**
 * /v1/channel_accounts — a Fenpay extension in Stripe's style: the merchant's own provider credentials
 * (Alipay app, WeChat Pay merchant number, UnionPay merId, a Stripe-compatible acquirer key). Secrets go
 * in once and never come back out (`[sealed]`); the key's mode decides the account's mode.
 */
import type { FastifyInstance } from 'fastify';
import { AppError, parseMetadata } from '../../../kernel/index.ts';
import { createChannelAccount, getChannelAccount, listChannelAccounts, serializeChannelAccount, updateChannelAccount, type Services } from '../../../flows/index.ts';
import { runMutation } from '../../idempotent.ts';
import { idParam, listResponse, metadataSchema, nullable } from '../../params.ts';
import { tenantOf } from './payment-intents.ts';

const tags = ['Channel accounts (Fenpay)'];
const credentialsSchema = { type: 'object', additionalProperties: { type: 'string', maxLength: 16_384 }, maxProperties: 20 } as const;

export async function channelAccountRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  app.post<{ Body: { channel: string; credentials: Record<string, string>; description?: string; metadata?: unknown } }>(
    '/channel_accounts',
    {
      schema: {
        tags,
        summary: 'Connect a channel account',
        description: `Channels: ${[...services.channelCatalog.values()].map((e) => `${e.channel} (${Object.keys(e.fields).join(', ')})`).join('; ')}.`,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['channel', 'credentials'],
          properties: { channel: { type: 'string', maxLength: 40 }, credentials: credentialsSchema, description: { type: 'string', maxLength: 500 }, metadata: metadataSchema },
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const input = { channel: body.channel, credentials: body.credentials, description: body.description, metadata: parseMetadata(body.metadata) };
      await runMutation(services, request, reply, (ctx) => createChannelAccount(services, ctx, input));
    },
  );

  app.get<{ Params: { id: string } }>('/channel_accounts/:id', { schema: { tags, summary: 'Retrieve a channel account', params: idParam } }, async (request) => {
    const row = await getChannelAccount(services, tenantOf(request.principal), request.params.id);
    if (!row) throw new AppError('resource_missing', { param: 'id', message: `No such channel account: '${request.params.id}'` });
    return serializeChannelAccount(row, services.config.publicUrl, services.channelCatalog.get(row.channel));
  });

  app.post<{ Params: { id: string }; Body: { credentials?: Record<string, string>; description?: string; metadata?: unknown; disabled?: boolean } }>(
    '/channel_accounts/:id',
    {
      schema: {
        tags,
        summary: 'Update a channel account (replace credentials, disable or enable)',
        params: idParam,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { credentials: credentialsSchema, description: { type: 'string', maxLength: 500 }, metadata: metadataSchema, disabled: { type: 'boolean' } },
        },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const input = { credentials: body.credentials, description: nullable(body.description), metadata: parseMetadata(body.metadata), disabled: body.disabled };
      await runMutation(services, request, reply, (ctx) => updateChannelAccount(services, ctx, request.params.id, input));
    },
  );

  app.get('/channel_accounts', { schema: { tags, summary: 'List channel accounts' } }, async (request) => {
    return listResponse('/v1/channel_accounts', await listChannelAccounts(services, tenantOf(request.principal)), false);
  });
}
