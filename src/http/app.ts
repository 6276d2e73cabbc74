/**
 * Builds the HTTP application (testable with `app.inject`). Stripe-compatible `/v1` plus health,
 * metrics, OpenAPI and the sandbox's pages. Nothing here starts listening; main.ts does.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
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
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false, useDefaults: true, allowUnionTypes: true } },
    return503OnClosing: true,
    forceCloseConnections: false,
  });

  // Stripe's form encoding with bracket syntax (metadata[key]=v, items[0][price]=p) and JSON bodies.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, qs.parse(body as string, { depth: 5, arrayLimit: 100, parameterLimit: 1000, strictDepth: true }));
    } catch {
      done(new AppError('body_malformed', { message: 'Invalid form-encoded body.' }), undefined);
    }
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
    await v1.register(paymentIntentRoutes, { services });
    await v1.register(paymentMethodRoutes, { services });
    await v1.register(customerRoutes, { services });
    await v1.register(refundRoutes, { services });
    await v1.register(balanceRoutes, { services });
    await v1.register(eventRoutes, { services });
  }, { prefix: '/v1' });

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
  if (header?.startsWith('Bearer ')) key = header.slice(7).trim();
  else if (header?.startsWith('Basic ')) {
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
