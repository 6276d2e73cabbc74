/**
 * /v1/channel_accounts — a Fenpay extension in Stripe's style: the merchant's own provider credentials
 * (Alipay app, WeChat Pay merchant number, UnionPay merId, a Stripe-compatible acquirer key). Secrets go
 * in once and never come back out (`[sealed]`); the key's mode decides the account's mode.
 */
import type { FastifyInstance } from 'fastify';
import { AppError, parseMetadata } from '../../../kernel/index.ts';
import {
  createChannelAccount,
  getChannelAccount,
  forgetRouting,
  healthOf,
  listChannelAccounts,
  routingStrategies,
  routingStrategyOf,
  serializeChannelAccount,
  updateChannelAccount,
  type RoutingStrategy,
  type Services,
} from '../../../flows/index.ts';
import type { FeeRule, RoutingRules } from '../../../db/index.ts';
import { runMutation } from '../../idempotent.ts';
import { idParam, listResponse, metadataSchema, nullable } from '../../params.ts';
import { tenantOf } from './payment-intents.ts';

const tags = ['Channel accounts (Fenpay)'];
const credentialsSchema = { type: 'object', additionalProperties: { type: 'string', maxLength: 16_384 }, maxProperties: 20 } as const;
const routingProperties = {
  priority: { type: 'integer', minimum: 0, maximum: 1_000_000, description: 'Lower is tried first (default 100).' },
  weight: { type: 'integer', minimum: 0, maximum: 1_000_000, description: 'Share among eligible accounts of the same priority (default 1).' },
  rules: {
    type: 'object',
    additionalProperties: false,
    description: 'When the account may serve a payment; every given condition must hold.',
    properties: {
      currencies: { type: 'array', items: { type: 'string', pattern: '^[a-z]{3}$' }, maxItems: 50 },
      min_amount: { type: 'integer', minimum: 0 },
      max_amount: { type: 'integer', minimum: 0 },
      card_brands: { type: 'array', items: { type: 'string', enum: ['visa', 'mastercard', 'amex', 'jcb', 'unionpay', 'discover', 'diners'] }, maxItems: 10 },
    },
  },
  fees: {
    type: 'array',
    maxItems: 50,
    description: 'Fee rates booked per attempt: percent_bps of the amount plus fixed_amount (minor units); the entry matching method and currency most exactly wins.',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['percent_bps', 'fixed_amount'],
      properties: {
        payment_method_type: { type: 'string', maxLength: 40 },
        currency: { type: 'string', pattern: '^[a-z]{3}$' },
        percent_bps: { type: 'integer', minimum: 0, maximum: 10_000 },
        fixed_amount: { type: 'integer', minimum: 0, maximum: 99_999_999 },
      },
    },
  },
} as const;

interface RoutingBody {
  priority?: number;
  weight?: number;
  rules?: RoutingRules;
  fees?: FeeRule[];
}

export async function channelAccountRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  app.post<{ Body: RoutingBody & { channel: string; credentials: Record<string, string>; description?: string; metadata?: unknown } }>(
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
          properties: { channel: { type: 'string', maxLength: 40 }, credentials: credentialsSchema, description: { type: 'string', maxLength: 500 }, metadata: metadataSchema, ...routingProperties },
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const input = { channel: body.channel, credentials: body.credentials, description: body.description, metadata: parseMetadata(body.metadata), priority: body.priority, weight: body.weight, rules: body.rules, fees: body.fees };
      await runMutation(services, request, reply, (ctx) => createChannelAccount(services, ctx, input));
    },
  );

  app.get<{ Params: { id: string } }>('/channel_accounts/:id', { schema: { tags, summary: 'Retrieve a channel account', params: idParam } }, async (request) => {
    const row = await getChannelAccount(services, tenantOf(request.principal), request.params.id);
    if (!row) throw new AppError('resource_missing', { param: 'id', message: `No such channel account: '${request.params.id}'` });
    const health = (await healthOf(services, [row.id])).get(row.id);
    return serializeChannelAccount(row, services.config.publicUrl, services.channelCatalog.get(row.channel), health ?? null);
  });

  app.post<{ Params: { id: string }; Body: RoutingBody & { credentials?: Record<string, string>; description?: string; metadata?: unknown; disabled?: boolean } }>(
    '/channel_accounts/:id',
    {
      schema: {
        tags,
        summary: 'Update a channel account (replace credentials, disable or enable)',
        params: idParam,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { credentials: credentialsSchema, description: { type: 'string', maxLength: 500 }, metadata: metadataSchema, disabled: { type: 'boolean' }, ...routingProperties },
        },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const input = {
        credentials: body.credentials,
        description: nullable(body.description),
        metadata: parseMetadata(body.metadata),
        disabled: body.disabled,
        priority: body.priority,
        weight: body.weight,
        rules: body.rules,
        fees: body.fees,
      };
      await runMutation(services, request, reply, (ctx) => updateChannelAccount(services, ctx, request.params.id, input));
    },
  );

  app.get('/channel_accounts', { schema: { tags, summary: 'List channel accounts' } }, async (request) => {
    return listResponse('/v1/channel_accounts', await listChannelAccounts(services, tenantOf(request.principal)), false);
  });

  const merchantSettings = async (merchantId: string) =>
    ((await services.db.selectFrom('merchants').select('settings').where('id', '=', merchantId).executeTakeFirst())?.settings ?? {});
  const setMerchantSetting = async (merchantId: string, key: string, value: string) => {
    await services.db
      .updateTable('merchants')
      .set((eb) => ({ settings: eb.fn<Record<string, unknown>>('jsonb_set', [eb.ref('settings'), eb.val(`{${key}}`), eb.val(JSON.stringify(value))]) }))
      .where('id', '=', merchantId)
      .execute();
    forgetRouting(services);
  };

  app.get('/routing_settings', { schema: { tags, summary: 'How payments are routed across channel accounts' } }, async (request) => {
    const tenant = tenantOf(request.principal);
    return { object: 'routing_settings', strategy: await routingStrategyOf(services, tenant.merchantId) };
  });

  app.post<{ Body: { strategy: RoutingStrategy } }>(
    '/routing_settings',
    {
      schema: {
        tags,
        summary: 'Choose the routing strategy',
        description: 'priority: lowest priority number first, weight among equals (default); cheapest: the lowest fee for the payment among eligible accounts.',
        body: { type: 'object', additionalProperties: false, required: ['strategy'], properties: { strategy: { type: 'string', enum: [...routingStrategies] } } },
      },
    },
    async (request) => {
      await setMerchantSetting(tenantOf(request.principal).merchantId, 'routing_strategy', request.body.strategy);
      return { object: 'routing_settings', strategy: request.body.strategy };
    },
  );

  const lateSuccessDescription =
    'A payment that succeeds at a channel after its intent was closed, or after another attempt paid it: refund (default) refunds it automatically through the channel that took it; review books it and leaves it flagged (charge failure_message late_success_requires_review) for a person.';
  app.get('/payment_settings', { schema: { tags, summary: 'What happens to late successes', description: lateSuccessDescription } }, async (request) => {
    const settings = await merchantSettings(tenantOf(request.principal).merchantId);
    return { object: 'payment_settings', late_success: settings.late_success === 'review' ? 'review' : 'refund' };
  });

  app.post<{ Body: { late_success: 'refund' | 'review' } }>(
    '/payment_settings',
    {
      schema: {
        tags,
        summary: 'Choose what happens to late successes',
        description: lateSuccessDescription,
        body: { type: 'object', additionalProperties: false, required: ['late_success'], properties: { late_success: { type: 'string', enum: ['refund', 'review'] } } },
      },
    },
    async (request) => {
      await setMerchantSetting(tenantOf(request.principal).merchantId, 'late_success', request.body.late_success);
      return { object: 'payment_settings', late_success: request.body.late_success };
    },
  );
}
