/**
 * Runs a mutating request under Stripe's idempotency rules: same key + same parameters → the stored
 * response (errors included); same key + different parameters → 400 idempotency_error; same key
 * while the first is still running → 409 (stripe-node retries 409 by itself, then gets the replay).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../kernel/index.ts';
import {
  IdempotencyScope,
  idempotencyKeyLengthMax,
  readIdempotencyRecord,
  requestFingerprint,
  storeResponseDirect,
  takeOverStaleKey,
  type IdempotencyRecord,
} from '../idempotency/index.ts';
import { IdempotencyClaimTaken, readCheckoutSession, serializeSession, type FlowResponse, type RequestContext, type Services } from '../flows/index.ts';
import { getPaymentIntent, serializePaymentIntent, getRefund, serializeRefund } from '../payments/index.ts';
import { getCustomer, serializeCustomer } from '../customers/index.ts';
import { getPaymentMethod, serializePaymentMethod } from '../payment-methods/index.ts';
import { getWebhookEndpoint, serializeWebhookEndpoint } from '../webhooks/index.ts';
import { toAppError } from './errors.ts';

export async function runMutation(
  services: Services,
  request: FastifyRequest,
  reply: FastifyReply,
  run: (ctx: RequestContext) => Promise<FlowResponse | Record<string, unknown>>,
): Promise<void> {
  const principal = request.principal;
  if (!principal) throw new AppError('api_key_missing');
  // A client that gave up while this request queued gets nothing done for it: under overload, work for
  // abandoned requests would only push everyone else past their deadline too.
  if (request.raw.socket.destroyed) {
    request.log.warn('client went away before the request started; nothing was done');
    void reply.code(499).send();
    return;
  }
  const tenant = { merchantId: principal.merchantId, livemode: principal.livemode };
  const rawKey = request.headers['idempotency-key'];
  const key = Array.isArray(rawKey) ? rawKey[0] : rawKey;
  const baseCtx: RequestContext = { tenant, requestId: request.id, idempotency: undefined, handlesCardData: principal.handlesCardData, clientIp: request.ip };

  if (key === undefined || key === '') {
    send(reply, normalize(await run(baseCtx)));
    return;
  }
  if (key.length > idempotencyKeyLengthMax) throw new AppError('idempotency_key_too_long', { message: `Idempotency keys can be at most ${idempotencyKeyLengthMax} characters.` });
  void reply.header('Idempotency-Key', key);
  const path = request.routeOptions.url ?? request.url;
  const requestPath = request.url.split('?')[0] ?? path;
  const hash = requestFingerprint({ method: request.method, path: requestPath, params: request.body ?? {} });

  // No read before running: the key is claimed in the flow's first write, and only when that claim
  // loses (a retry, a concurrent duplicate) or the flow is refused before claiming is the stored record
  // read. A first request — nearly every request — costs no extra query.
  const scope = new IdempotencyScope(tenant, key, request.method, requestPath, hash);
  const ctx: RequestContext = { ...baseCtx, idempotency: scope };
  let response: FlowResponse;
  try {
    response = normalize(await run(ctx));
  } catch (error) {
    if (error instanceof IdempotencyClaimTaken) {
      const record = await readIdempotencyRecord(services.db, tenant, key);
      if (!record) throw new AppError('idempotency_key_in_use');
      await answerFromRecord(services, reply, { tenant, key, record, method: request.method, path: requestPath, hash });
      return;
    }
    if (!scope.claimed && error instanceof AppError) {
      // Refused before claiming the key, possibly because a request with the same key changed the object
      // meanwhile (a retry arriving while a capture is at the channel sees `capturing`). That request's
      // answer, or a 409 while it runs, is this key's answer; its side effect is not this one's error.
      const record = await readIdempotencyRecord(services.db, tenant, key);
      if (record) {
        await answerFromRecord(services, reply, { tenant, key, record, method: request.method, path: requestPath, hash });
        return;
      }
    }
    if (scope.claimed && !scope.completed) {
      // Execution began: Stripe stores the outcome whatever it is, errors included.
      const appError = toAppError(error) ?? new AppError('api_error', { message: 'An unexpected error occurred.' });
      await storeResponseDirect(services.db, scope, { status: appError.status, body: appError.toPublic(request.id) });
    }
    throw error;
  }
  if (scope.claimed && !scope.completed) await storeResponseDirect(services.db, scope, response);
  if (!scope.claimed) {
    // Nothing was written (e.g. attaching an already attached PaymentMethod): an earlier request with this
    // key still decides the answer, or the parameter mismatch error.
    const record = await readIdempotencyRecord(services.db, tenant, key);
    if (record) {
      await answerFromRecord(services, reply, { tenant, key, record, method: request.method, path: requestPath, hash });
      return;
    }
  }
  send(reply, response);
}

function normalize(result: FlowResponse | Record<string, unknown>): FlowResponse {
  if (typeof result.status === 'number' && typeof result.body === 'object' && result.body !== null && Object.keys(result).length === 2) {
    return result as unknown as FlowResponse;
  }
  return { status: 200, body: result as Record<string, unknown> };
}

function send(reply: FastifyReply, response: FlowResponse): void {
  void reply.code(response.status).send(response.body);
}

async function answerFromRecord(
  services: Services,
  reply: FastifyReply,
  input: { tenant: { merchantId: string; livemode: boolean }; key: string; record: IdempotencyRecord; method: string; path: string; hash: string },
): Promise<void> {
  const { record } = input;
  if (record.requestMethod !== input.method || record.requestPath !== input.path || record.requestHash !== input.hash) {
    throw new AppError('idempotency_key_reused', {
      message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${input.key}' if you meant to execute a different request.`,
    });
  }
  if (record.response) {
    void reply.header('Idempotent-Replayed', 'true');
    void reply.code(record.response.status).send(record.response.body);
    return;
  }
  const now = services.now();
  const staleBefore = new Date(now.getTime() - services.config.idempotencyLockTimeoutSeconds * 1000);
  if (record.lockedAt !== null && record.lockedAt >= staleBefore) {
    void reply.header('Stripe-Should-Retry', 'true');
    throw new AppError('idempotency_key_in_use', {
      message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${input.key}. Please try again later.`,
    });
  }
  // The first request died after recording what it worked on: answer with that object as it is now.
  if (!(await takeOverStaleKey(services.db, input.tenant, input.key, { staleBefore, now }))) {
    throw new AppError('idempotency_key_in_use');
  }
  const body = record.resourceId === null ? undefined : await currentResource(services, input.tenant, record.resourceId);
  const response: FlowResponse = body
    ? { status: 200, body }
    : { status: 500, body: new AppError('api_error', { message: 'The original request did not complete; retry with a new key.' }).toPublic(undefined) };
  const scope = new IdempotencyScope(input.tenant, input.key, input.method, input.path, input.hash);
  await storeResponseDirect(services.db, scope, response);
  send(reply, response);
}

async function currentResource(services: Services, tenant: { merchantId: string; livemode: boolean }, id: string): Promise<Record<string, unknown> | undefined> {
  if (id.startsWith('pi_')) {
    const row = await getPaymentIntent(services.db, tenant, id);
    return row && serializePaymentIntent(row);
  }
  if (id.startsWith('re_')) {
    const row = await getRefund(services.db, tenant, id);
    return row && serializeRefund(row);
  }
  if (id.startsWith('cus_')) {
    const row = await getCustomer(services.db, tenant, id, { includeDeleted: true });
    return row && serializeCustomer(row);
  }
  if (id.startsWith('cs_')) {
    const row = await readCheckoutSession(services, tenant, id);
    return row && (await serializeSession(services, row));
  }
  if (id.startsWith('we_')) {
    const row = await getWebhookEndpoint(services.db, tenant, id);
    return row && serializeWebhookEndpoint(row);
  }
  if (id.startsWith('pm_')) {
    const row = await getPaymentMethod(services.db, tenant, id);
    return row && serializePaymentMethod(row);
  }
  return undefined;
}
