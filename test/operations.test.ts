/**
 * Operable from day one: health and readiness, Prometheus metrics, OpenAPI and its docs page, one
 * JSON log line per request carrying the request id, and nothing secret in any log line.
 */
import { Writable } from 'node:stream';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { startFenpay, type Fenpay } from '../src/boot.ts';
import { createMerchant, issueApiKey } from '../src/merchants/index.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { freePort, testVaultKeys } from './support/fenpay.ts';

describe('operations', () => {
  let database: TestDatabase;
  let fenpay: Fenpay;
  let url: string;
  let secretKey: string;
  let stripe: Stripe;
  const lines: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      FENPAY_ENV: 'development',
      DATABASE_URL: database.url,
      PORT: String(port),
      PUBLIC_URL: url,
      VAULT_KEYS: testVaultKeys,
      LOG_LEVEL: 'debug',
      FENPAY_SEED_DEMO: 'false',
    });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    // The production logger, writing to a sink the test can read.
    const logger = createLogger({ level: 'debug', destination: sink });
    fenpay = await startFenpay({ config, logger });
    await fenpay.app!.listen({ host: '127.0.0.1', port });
    const merchant = await createMerchant(database.db, { name: 'Ops Shop' });
    secretKey = (await issueApiKey(database.db, { merchantId: merchant.id, kind: 'secret', livemode: false })).key;
    stripe = new Stripe(secretKey, { host: '127.0.0.1', port, protocol: 'http', telemetry: false, maxNetworkRetries: 0 });
  });
  afterAll(async () => {
    await fenpay?.stop();
    await database?.drop();
  });

  it('answers health and readiness probes', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('exposes request, payment and ledger metrics in Prometheus format', async () => {
    await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true }).catch(() => undefined);
    const response = await fetch(`${url}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(/fenpay_http_requests_total\{method="POST",route="\/v1\/payment_intents",status="200"\} [1-9]/);
    expect(text).toMatch(/fenpay_http_requests_total\{method="POST",route="\/v1\/payment_intents",status="402"\} [1-9]/);
    expect(text).toMatch(/fenpay_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/v1\/payment_intents",status="200"\} [1-9]/);
    expect(text).toMatch(/fenpay_payments_total\{status="succeeded",method="card",channel="sandbox_card"\} [1-9]/);
    expect(text).toMatch(/fenpay_payments_total\{status="failed",method="card",channel="sandbox_card"\} [1-9]/);
    expect(text).toMatch(/fenpay_ledger_transfers_total [1-9]/);
    expect(text).toMatch(/fenpay_write_batch_size_count [1-9]/);
  });

  it('serves an OpenAPI document generated from the route schemas, and a docs page', async () => {
    const spec = (await (await fetch(`${url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> };
    expect(spec.openapi).toMatch(/^3\./);
    for (const path of [
      '/v1/payment_intents', '/v1/payment_intents/{id}', '/v1/payment_intents/{id}/confirm', '/v1/payment_intents/{id}/capture', '/v1/payment_intents/{id}/cancel',
      '/v1/payment_methods', '/v1/payment_methods/{id}', '/v1/payment_methods/{id}/attach', '/v1/payment_methods/{id}/detach',
      '/v1/customers', '/v1/customers/{id}', '/v1/customers/{id}/payment_methods', '/v1/refunds', '/v1/refunds/{id}',
      '/v1/balance', '/v1/balance_transactions', '/v1/balance_transactions/{id}', '/v1/events', '/v1/events/{id}',
    ]) {
      expect(spec.paths[path], path).toBeDefined();
    }
    expect(JSON.stringify(spec.paths['/v1/payment_intents']!.post!.requestBody)).toContain('amount');
    const docs = await fetch(`${url}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });

  it('logs one JSON line per request with its request id, and never a card number or key', async () => {
    const before = lines.length;
    const response = await fetch(`${url}/v1/payment_methods`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'type=card&card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2035&card[cvc]=123',
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get('request-id');
    expect(requestId).toMatch(/^req_/);
    await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    // A request that fails validation with the card number in it must not leak it either.
    await fetch(`${url}/v1/payment_methods`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'type=card&card[number]=4000056655665556&card[exp_month]=13&card[exp_year]=2035',
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const mine = lines.slice(before);
    expect(mine.length).toBeGreaterThan(0);
    const parsed = mine.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed.some((l) => l.requestId === requestId && l.msg === 'request completed')).toBe(true);
    for (const line of lines) {
      expect(line).not.toContain('4242424242424242');
      expect(line).not.toContain('4000056655665556');
      expect(line).not.toContain(secretKey);
    }
  });
});
