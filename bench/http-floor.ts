/**
 * `npm run bench:http-floor`: what an HTTP request costs on this machine before Fenpay does anything.
 * A bare Fastify server (same version and form parser as Fenpay, no database, no logging) answers
 * `POST /v1/payment_intents` with a fixed PaymentIntent of the size Fenpay returns; the benchmark's own
 * load generator drives it with the same requests as phase (a) of `npm run bench`. Prints CPU
 * milliseconds per request of the server and of the load generator: the floor under Fenpay's own CPU
 * per payment in the main benchmark, measured the same way (/proc).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import qs from 'qs';
import { freePort } from '../src/db/index.ts';
import { runLoad } from './http-load.ts';
import { cpuSnapshot, cpuUsageBetween } from './resource-usage.ts';

const paymentIntent = {
  id: 'pi_BE96nbLRs6XVeUpPA5mVAgE4', object: 'payment_intent', amount: 1099, amount_capturable: 0, amount_details: { tip: {} }, amount_received: 1099,
  application: null, application_fee_amount: null, automatic_payment_methods: null, canceled_at: null, cancellation_reason: null, capture_method: 'automatic',
  client_secret: 'pi_BE96nbLRs6XVeUpPA5mVAgE4_secret_EGKwPCnZpifORIGiU2ZF9awH', confirmation_method: 'automatic', created: 1796295266, currency: 'usd',
  customer: null, description: null, last_payment_error: null, latest_charge: 'ch_nggIyiCwWJ4EH3solwDzw1Pb', livemode: false, metadata: {}, next_action: null,
  on_behalf_of: null, payment_method: 'pm_nEBxquSnkfdD8wFjFP5MTUjE', payment_method_configuration_details: null,
  payment_method_options: { card: { request_three_d_secure: 'automatic' } }, payment_method_types: ['card'], processing: null, receipt_email: null, return_url: null,
  review: null, setup_future_usage: null, shipping: null, source: null, statement_descriptor: null, statement_descriptor_suffix: null, status: 'succeeded',
  transfer_data: null, transfer_group: null,
};

async function serve(port: number): Promise<void> {
  const app = Fastify({ logger: false });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, qs.parse(body as string, { depth: 5 })));
  app.post('/v1/payment_intents', async (request) => ({ ...paymentIntent, amount: Number((request.body as { amount?: string }).amount) }));
  await app.listen({ port, host: '127.0.0.1' });
  process.stdout.write('ready\n');
}

async function measure(): Promise<void> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'serve', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
  const head = `POST /v1/payment_intents HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer sk_test_floor\r\nContent-Type: application/x-www-form-urlencoded\r\nIdempotency-Key: `;
  const load = (durationMs: number) =>
    runLoad({
      targets: [{ host: '127.0.0.1', port }],
      connections: 100,
      durationMs,
      timeoutMs: 10_000,
      request: () => {
        const body = `amount=${1000 + Math.floor(Math.random() * 9000)}&currency=usd&payment_method=pm_card_visa&confirm=true`;
        return `${head}${randomUUID()}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      },
      onResponse: () => undefined,
    });
  try {
    await load(3_000);
    const before = cpuSnapshot({ fenpay: [child.pid!], postmaster: undefined });
    const result = await load(10_000);
    const usage = cpuUsageBetween(before, cpuSnapshot({ fenpay: [child.pid!], postmaster: undefined }), 1);
    const seconds = result.durationMs / 1000;
    const perRequest = (cores: number | undefined) => (cores === undefined ? '–' : ((cores * seconds * 1000) / result.responses).toFixed(3));
    console.log(`bare Fastify, 100 connections, ${seconds.toFixed(1)} s: ${(result.responses / seconds).toFixed(0)} requests/s`);
    console.log(`server CPU per request: ${perRequest(usage.fenpayCores)} ms; load generator CPU per request: ${perRequest(usage.loadGeneratorCores)} ms`);
  } finally {
    child.kill('SIGTERM');
  }
}

if (process.argv[2] === 'serve') await serve(Number(process.argv[3]));
else await measure();
