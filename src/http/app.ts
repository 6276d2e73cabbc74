/**
 * Builds the HTTP application (testable with `app.inject`). Stripe-compatible `/v1` plus health,
 * metrics, OpenAPI and the sandbox's pages. Nothing here starts listening; main.ts does.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import qs from 'qs';
import type { Logger } from 'pino';
import { AppError } from '../kernel/index.ts';
import type { ApiKeyAuthenticator, ApiKeyPrincipal } from '../merchants/index.ts';
import type { Services } from '../flows/index.ts';
import { errorHandler } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { newId } from '../kernel/index.ts';
import { paymentIntentRoutes } from './routes/v1/payment-intents.ts';
import { paymentMethodRoutes } from './routes/v1/payment-methods.ts';
import { customerRoutes } from './routes/v1/customers.ts';
import { refundRoutes } from './routes/v1/refunds.ts';
import { balanceRoutes } from './routes/v1/balance.ts';
import { eventRoutes } from './routes/v1/events.ts';
import { webhookEndpointRoutes } from './routes/v1/webhook-endpoints.ts';
import { channelAccountRoutes } from './routes/v1/channel-accounts.ts';
import { chargeRoutes } from './routes/v1/charges.ts';
import { channelCallbackRoutes } from './routes/channel-callbacks.ts';
import { checkoutSessionRoutes } from './routes/v1/checkout.ts';
import { couponRoutes } from './routes/v1/coupons.ts';
import { checkoutPageRoutes } from './routes/checkout-page.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: ApiKeyPrincipal | undefined;
  }
  interface FastifyContextConfig {
    /** Publishable keys may call this route (card tokenization from a browser). */
    publishable?: boolean;
  }
}

export interface AppOptions {
  readonly services: Services;
  readonly authenticator: ApiKeyAuthenticator;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Registers extra plugins (the sandbox's pages) on the app. */
  readonly extraPlugins?: ((app: FastifyInstance) => Promise<void>)[];
  readonly isReady?: () => Promise<boolean>;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { services, authenticator, metrics } = options;
  const app = Fastify({
    loggerInstance: options.logger as unknown as FastifyBaseLogger,
    bodyLimit: services.config.bodyLimitBytes,
    genReqId: () => newId('request'),
    logController: new RequestLogController(services.config.env === 'test'),
    routerOptions: {
      querystringParser: (text: string) => qs.parse(text, { depth: 5, arrayLimit: 100, parameterLimit: 1000 }) as Record<string, unknown>,
      ignoreTrailingSlash: true,
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false, useDefaults: true, allowUnionTypes: true } },
    return503OnClosing: true,
    forceCloseConnections: false,
    // The router refuses a path that is not valid percent-encoded UTF-8, or with an id longer than any
    // id, before the error handler runs: answer those in Stripe's error shape too.
    frameworkErrors: (error, request, reply) => {
      const appError = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new AppError('resource_missing', { message: 'No such object: the id in the request path is longer than any id.' })
        : new AppError('url_invalid', { message: `Unrecognized request URL (${request.method}): the path is not valid percent-encoded UTF-8.` });
      void (reply as unknown as FastifyReply).code(appError.status).header('Request-Id', request.id).send(appError.toPublic(request.id));
    },
  });

  // Stripe's form encoding with bracket syntax (metadata[key]=v, items[0][price]=p) and JSON bodies.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, qs.parse(body as string, { depth: 5, arrayLimit: 100, parameterLimit: 1000, strictDepth: true }));
    } catch {
      done(new AppError('body_malformed', { message: 'Invalid form-encoded body.' }), undefined);
    }
  });
  // Fastify parses text/plain by default; only form and JSON bodies are accepted (415 otherwise).
  app.removeContentTypeParser('text/plain');
  // JSON keeps Fastify's parser (it refuses __proto__ poisoning), with booleans turned into "true"/"false"
  // as a form body carries them: the shared coercing validator would read `"amount": true` as 1.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    void jsonParser(request, body as string, (error, value) => done(error, error ? undefined : booleansAsText(value)));
  });

  app.decorateRequest('principal', undefined);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    const error = new AppError('url_invalid', { message: `Unrecognized request URL (${request.method}: ${request.url.split('?')[0]}).` });
    void reply.code(404).send(error.toPublic(request.id));
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('Request-Id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Fenpay API',
        version: '2026-07-29.dahlia',
        description:
          'A Stripe-compatible subset at /v1: the official Stripe SDKs work as Fenpay clients by changing their host. ' +
          'Amounts are integers in the currency\'s smallest unit. Authenticate with `Authorization: Bearer sk_test_…` (or HTTP Basic with the key as user name).',
      },
      servers: [{ url: services.config.publicUrl }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' }, basicAuth: { type: 'http', scheme: 'basic' } } },
      security: [{ bearerAuth: [] }, { basicAuth: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = options.isReady ? await options.isReady().catch(() => false) : true;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready' });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.header('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  await app.register(async (v1) => {
    v1.addHook('onRequest', async (request) => {
      request.principal = await authenticate(authenticator, request);
      if (request.principal.kind === 'publishable' && !request.routeOptions.config.publishable) {
        throw new AppError('secret_key_required', { message: 'This API call cannot be made with a publishable API key. Please use a secret API key.' });
      }
    });
    // PostgreSQL text cannot hold U+0000: refuse it here, naming the parameter, instead of failing in the database.
    v1.addHook('preValidation', async (request) => {
      const param = nulParam(request.query, '') ?? nulParam(request.body, '');
      if (param !== undefined) throw new AppError('parameter_invalid', { param, message: `Invalid ${param}: strings cannot contain the NUL character (U+0000).` });
    });
    await v1.register(paymentIntentRoutes, { services });
    await v1.register(paymentMethodRoutes, { services });
    await v1.register(customerRoutes, { services });
    await v1.register(refundRoutes, { services });
    await v1.register(balanceRoutes, { services });
    await v1.register(eventRoutes, { services });
    await v1.register(webhookEndpointRoutes, { services });
    await v1.register(channelAccountRoutes, { services });
    await v1.register(chargeRoutes, { services });
    await v1.register(checkoutSessionRoutes, { services });
    await v1.register(couponRoutes, { services });
  }, { prefix: '/v1' });
  await app.register(checkoutPageRoutes, { services });
  await app.register(channelCallbackRoutes, { services });

  for (const plugin of options.extraPlugins ?? []) await plugin(app);
  return app;
}

/** One log line per request (at completion), labelled with the request id; none in tests. */
class RequestLogController extends LogController {
  constructor(quiet: boolean) {
    super({ requestIdLogLabel: 'requestId', disableRequestLogging: quiet });
  }
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }
}

async function authenticate(authenticator: ApiKeyAuthenticator, request: FastifyRequest): Promise<ApiKeyPrincipal> {
  const header = request.headers.authorization;
  let key: string | undefined;
  // Authentication scheme names are case-insensitive (RFC 9110 §11.1).
  if (header !== undefined && /^bearer /i.test(header)) key = header.slice(7).trim();
  else if (header !== undefined && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    key = decoded.split(':')[0];
  }
  if (!key) {
    throw new AppError('api_key_missing', {
      message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    });
  }
  const principal = await authenticator.authenticate(key);
  if (!principal) {
    throw new AppError('api_key_invalid', { message: `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, Math.min(key.length - 12, 24)))}${key.slice(-4)}` });
  }
  return principal;
}

/** JSON booleans as the text a form body would carry ("true"/"false"); everything else unchanged. */
function booleansAsText(value: unknown): unknown {
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(booleansAsText);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, booleansAsText(v)]));
  return value;
}

/** The bracket-notation name of the first key or string value containing U+0000, if any. */
function nulParam(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value)) {
    const childPath = path === '' ? key : `${path}[${key}]`;
    if (key.includes('\u0000')) return childPath.replaceAll('\u0000', '\\u0000');
    const found = nulParam(child, childPath);
    if (found !== undefined) return found;
  }
  return undefined;
}
