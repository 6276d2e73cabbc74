/**
 * No request can produce a 500: hundreds of malformed requests (junk bodies, wrong types per field,
 * nested garbage, huge strings, unicode and NUL characters, arrays where scalars belong, odd path ids,
 * junk query strings) against every route, over raw HTTP. Every answer must be < 500, and every error
 * must be Stripe-shaped. The generator is seeded, so a failure names the request that reproduces it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../support/fenpay.ts';

let env: TestFenpay;
let shop: TestMerchant;
const ids: Record<string, string> = {};

beforeAll(async () => {
  env = await startTestFenpay();
  shop = await env.createMerchant();
  const s = shop.stripe;
  await s.paymentIntents.create({ amount: 1_000_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
  const customer = await s.customers.create({ email: 'fuzz@example.com' });
  const pm = await s.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: new Date().getUTCFullYear() + 1 } });
  await s.paymentMethods.attach(pm.id, { customer: customer.id });
  const paid = await s.paymentIntents.create({ amount: 5_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
  const authorized = await s.paymentIntents.create({ amount: 5_000, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
  const open = await s.paymentIntents.create({ amount: 5_000, currency: 'usd' });
  const refund = await s.refunds.create({ payment_intent: paid.id, amount: 100 });
  const event = (await s.events.list({ limit: 1 })).data[0]!;
  const txn = (await s.balanceTransactions.list({ limit: 1 })).data[0]!;
  Object.assign(ids, { paid: paid.id, authorized: authorized.id, open: open.id, customer: customer.id, pm: pm.id, refund: refund.id, event: event.id, txn: txn.id, charge: paid.latest_charge as string });
});

afterAll(async () => {
  await env?.close();
});

/** mulberry32: a small seeded PRNG, so every run sends the same requests. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seed = Number(process.env.FUZZ_SEED ?? 20_260_729);
const random = prng(seed);
const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

function deepObject(depth: number): unknown {
  return depth === 0 ? 'leaf' : { n: deepObject(depth - 1) };
}

function deepArray(depth: number): unknown {
  return depth === 0 ? 1 : [deepArray(depth - 1)];
}

/** Values of every JSON type, chosen to break parsers, validators, BigInt conversion and PostgreSQL. */
const junkValues: readonly (() => unknown)[] = [
  () => null,
  () => true,
  () => false,
  () => 0,
  () => -1,
  () => 1.5,
  () => -0.0001,
  () => 1e308,
  () => -1e308,
  () => Number.MAX_SAFE_INTEGER + 2,
  () => 2 ** 63,
  () => '',
  () => ' ',
  () => 'abc',
  () => '１２３',
  () => '12abc',
  () => '0x10',
  () => '1e3',
  () => 'NaN',
  () => 'Infinity',
  () => '-0',
  () => 'a\u0000b',
  () => '\u0000',
  () => 'null',
  () => '\ud800',
  () => '🙂'.repeat(200),
  () => 'ي'.repeat(50) + '\u202e',
  () => 'x'.repeat(10_000),
  () => 'pi_' + 'a'.repeat(300),
  () => "'; DROP TABLE payment_intents; --",
  () => '%00',
  () => '../../etc/passwd',
  () => '<script>alert(1)</script>',
  () => [],
  () => [1, 2, 3],
  () => ['a', { b: 'c' }],
  () => [[[]]],
  () => ({}),
  () => ({ a: 1 }),
  () => ({ __proto__: { polluted: true } }),
  () => JSON.parse('{"__proto__": {"admin": true}}'),
  () => ({ constructor: { prototype: { x: 1 } } }),
  () => deepObject(40),
  () => deepArray(40),
  () => Object.fromEntries(Array.from({ length: 200 }, (_, k) => [`k${k}`, 'v'])),
  () => ({ '': 'empty key' }),
  () => ({ ['k'.repeat(100)]: 'long key' }),
  () => ({ a: 'x'.repeat(600) }),
];

const junk = (): unknown => pick(junkValues)();

interface Route {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly fields: readonly string[];
  /** A valid body (or query) that one junk field is mixed into. */
  readonly base?: () => Record<string, unknown>;
}

const piFields = ['amount', 'currency', 'capture_method', 'confirmation_method', 'confirm', 'customer', 'description', 'metadata', 'payment_method', 'payment_method_types', 'automatic_payment_methods', 'receipt_email', 'return_url', 'statement_descriptor', 'expand'];
const listFields = ['limit', 'starting_after', 'ending_before', 'created', 'expand'];
const customerFields = ['email', 'name', 'phone', 'description', 'address', 'metadata', 'payment_method', 'invoice_settings', 'expand'];

const routes = (): Route[] => [
  { method: 'POST', path: '/v1/payment_intents', fields: piFields, base: () => ({ amount: 1000, currency: 'usd' }) },
  { method: 'POST', path: '/v1/payment_intents', fields: ['payment_method', 'customer', 'metadata', 'return_url', 'description'], base: () => ({ amount: 1000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' }) },
  { method: 'GET', path: '/v1/payment_intents', fields: [...listFields, 'customer'] },
  { method: 'GET', path: `/v1/payment_intents/${ids.paid}`, fields: ['client_secret', 'expand'] },
  { method: 'POST', path: `/v1/payment_intents/${ids.open}`, fields: piFields.filter((f) => f !== 'confirm'), base: () => ({ description: 'fuzz' }) },
  { method: 'POST', path: `/v1/payment_intents/${ids.open}/confirm`, fields: ['payment_method', 'return_url', 'receipt_email', 'expand'] },
  { method: 'POST', path: `/v1/payment_intents/${ids.authorized}/capture`, fields: ['amount_to_capture', 'final_capture', 'metadata', 'expand'], base: () => ({ amount_to_capture: 999_999 }) },
  { method: 'POST', path: `/v1/payment_intents/${ids.paid}/cancel`, fields: ['cancellation_reason', 'expand'] },
  { method: 'POST', path: '/v1/payment_methods', fields: ['type', 'card', 'billing_details', 'metadata', 'expand'], base: () => ({ type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: 2099 } }) },
  { method: 'POST', path: '/v1/payment_methods', fields: ['number', 'exp_month', 'exp_year', 'cvc'].map((f) => `card.${f}`), base: () => ({ type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: 2099 } }) },
  { method: 'GET', path: '/v1/payment_methods', fields: [...listFields, 'customer', 'type'], base: () => ({ customer: ids.customer }) },
  { method: 'GET', path: `/v1/payment_methods/${ids.pm}`, fields: ['expand'] },
  { method: 'POST', path: `/v1/payment_methods/${ids.pm}/attach`, fields: ['customer', 'expand'] },
  { method: 'POST', path: `/v1/payment_methods/${ids.pm}/detach`, fields: ['expand'] },
  { method: 'POST', path: '/v1/customers', fields: customerFields },
  { method: 'GET', path: '/v1/customers', fields: [...listFields, 'email'] },
  { method: 'GET', path: `/v1/customers/${ids.customer}`, fields: ['expand'] },
  { method: 'POST', path: `/v1/customers/${ids.customer}`, fields: customerFields },
  { method: 'DELETE', path: `/v1/customers/${ids.customer}x`, fields: ['expand'] },
  { method: 'GET', path: `/v1/customers/${ids.customer}/payment_methods`, fields: [...listFields, 'type'] },
  { method: 'POST', path: '/v1/refunds', fields: ['payment_intent', 'charge', 'amount', 'reason', 'metadata', 'expand'], base: () => ({ payment_intent: ids.paid, amount: 1 }) },
  { method: 'GET', path: '/v1/refunds', fields: [...listFields, 'payment_intent', 'charge'] },
  { method: 'GET', path: `/v1/refunds/${ids.refund}`, fields: ['expand'] },
  { method: 'GET', path: '/v1/balance', fields: ['expand'] },
  { method: 'GET', path: '/v1/balance_transactions', fields: [...listFields, 'source', 'type', 'currency', 'payout'] },
  { method: 'GET', path: `/v1/balance_transactions/${ids.txn}`, fields: ['expand'] },
  { method: 'GET', path: '/v1/events', fields: [...listFields, 'type', 'types'] },
  { method: 'GET', path: `/v1/events/${ids.event}`, fields: ['expand'] },
];

/** Path templates with every id slot, for odd ids. */
const idRoutes: readonly [Route['method'], (id: string) => string][] = [
  ['GET', (id) => `/v1/payment_intents/${id}`],
  ['POST', (id) => `/v1/payment_intents/${id}`],
  ['POST', (id) => `/v1/payment_intents/${id}/confirm`],
  ['POST', (id) => `/v1/payment_intents/${id}/capture`],
  ['POST', (id) => `/v1/payment_intents/${id}/cancel`],
  ['GET', (id) => `/v1/payment_methods/${id}`],
  ['POST', (id) => `/v1/payment_methods/${id}/attach`],
  ['POST', (id) => `/v1/payment_methods/${id}/detach`],
  ['GET', (id) => `/v1/customers/${id}`],
  ['POST', (id) => `/v1/customers/${id}`],
  ['DELETE', (id) => `/v1/customers/${id}`],
  ['GET', (id) => `/v1/customers/${id}/payment_methods`],
  ['GET', (id) => `/v1/refunds/${id}`],
  ['GET', (id) => `/v1/balance_transactions/${id}`],
  ['GET', (id) => `/v1/events/${id}`],
];

const oddIds = [
  '%00', '%FF', '%E2%82', '%2F', '%2e%2e', '..', '.', 'pi_%20x', 'pi_' + 'a'.repeat(500), '%F0%9F%99%82', 'cus_%27%3B--',
  'pi_abc%0Adef', '%25', 'pi_-', 'pi_a.b', 'null', 'undefined', '0', '-1', '__proto__', 'constructor', 'pi_%u0041', '%C0%AE',
];

/** Sets `a.b` paths on a copy of an object. */
function withField(base: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(base);
  const parts = field.split('.');
  let target: Record<string, unknown> = copy;
  for (const part of parts.slice(0, -1)) {
    if (typeof target[part] !== 'object' || target[part] === null) target[part] = {};
    target = target[part] as Record<string, unknown>;
  }
  target[parts[parts.length - 1]!] = value;
  return copy;
}

/** Form-encodes like qs: brackets for nesting, indexed arrays; values that JSON cannot hold become text. */
function formEncode(value: unknown, prefix = ''): string[] {
  if (value === null || value === undefined) return [`${prefix}=`];
  if (Array.isArray(value)) return value.length === 0 ? [`${prefix}[]=`] : value.flatMap((v, k) => formEncode(v, `${prefix}[${k}]`));
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return [`${prefix}=`];
    return entries.flatMap(([k, v]) => formEncode(v, prefix ? `${prefix}[${encodeText(k)}]` : encodeText(k)));
  }
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- only primitives reach this line
  return [`${prefix}=${encodeText(String(value))}`];
}

/** encodeURIComponent, except that a lone surrogate becomes U+FFFD instead of throwing. */
function encodeText(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

const rawFormJunk = [
  '', '&', '=', '&&&===', '%', '%ZZ=1', 'amount=%ZZ', 'amount', 'amount[]=1&amount[]=2', 'amount[0]=1', 'amount[a]=1',
  'metadata[]=x', 'metadata=x&metadata[a]=b', 'metadata[a][b]=c', '__proto__[admin]=1', 'constructor[prototype][x]=1',
  'currency[]=usd&amount=100', 'a[b][c][d][e][f][g][h]=1', 'amount=1&amount=2', 'expand[0][0]=x', 'card[number][]=4242',
  Array.from({ length: 1500 }, (_, k) => `p${k}=1`).join('&'), 'x='.padEnd(50_000, 'y'), '\u0000=\u0000', 'amount=100&currency=usd%00',
  'amount=100&currency=usd&metadata[%00]=x', 'amount=100&currency=usd&description=%00', 'type=card&card[number]=4242%004242',
  `amount=100&currency=usd&metadata[${'k'.repeat(60)}]=v`, 'amount=100&currency=usd&metadata=', 'amount=100&currency=USD',
  'payment_method_types[100]=card&amount=1&currency=usd', 'payment_method_types[5]=card&amount=1&currency=usd',
];

const rawJsonJunk = [
  '', ' ', '{', '}', '{"a":}', '{"amount":1,}', '{"amount":01}', '{"amount":-}', '{"amount":1e999}', '{"amount":-1e999}',
  '{"amount":100,"currency":"usd","__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '[]', '[[[[', 'null', '0', '"x"',
  '{"amount":100,"currency":"usd","metadata":{"a":"\\u0000"}}', '{"amount":100,"currency":"usd","description":"\\u0000"}',
  '{"amount":100,"currency":"usd","metadata":{"\\u0000":"a"}}', '{"name":"\\ud800"}', '{"amount":100,"currency":"\\u0000sd"}',
  '\u00ef\u00bb\u00bf{"amount":100}', `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`, `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`,
];

const queryJunk = [
  'limit=-1', 'limit=0', 'limit=1e3', 'limit=abc', 'limit=1.5', 'limit[]=1', 'limit[a]=1', 'limit=99999999999999999999',
  'created=abc', 'created[gt]=abc', 'created[foo]=1', 'created[gt]=99999999999999999', 'created[lt]=-99999999999999',
  'created[gte][x]=1', 'created=1e308', 'starting_after[]=x', 'starting_after=', 'ending_before=%00', 'starting_after=pi_%00',
  'type[]=a', 'type=%00', 'types=x', 'types[0][a]=b', 'type=payment_intent.**', 'type=*', 'type=%25', 'type=_',
  'customer[x]=1', 'customer=%00', 'email=%00', 'source=%00', 'currency=%00', 'currency=xx', 'expand=x', 'expand[0][0]=y',
  'a[b][c][d][e][f][g]=1', Array.from({ length: 1200 }, (_, k) => `q${k}=1`).join('&'), 'limit=10&limit=20', '%ZZ', '&&&', '=',
  'payment_intent=%00', 'charge[]=x', 'client_secret=%00', 'limit=%00',
];

interface Probe {
  readonly method: string;
  readonly path: string;
  readonly contentType?: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** An HTML answer is fine (the sandbox's pages); only a 5xx is a finding. */
  readonly htmlOk?: boolean;
}

function buildProbes(): Probe[] {
  const probes: Probe[] = [];
  const all = routes();
  for (const route of all) {
    const posts = route.method !== 'GET' && route.method !== 'DELETE';
    for (const field of route.fields) {
      // Each field with two junk values, in JSON and in form encoding, alone and mixed into a valid base.
      for (let k = 0; k < 2; k++) {
        const body = withField(route.base?.() ?? {}, field, junk());
        if (posts) {
          let text: string;
          try {
            text = JSON.stringify(body);
          } catch {
            text = '{}';
          }
          probes.push({ method: route.method, path: route.path, contentType: 'application/json', body: text });
          probes.push({ method: route.method, path: route.path, contentType: 'application/x-www-form-urlencoded', body: formEncode(body).join('&') });
        } else {
          probes.push({ method: route.method, path: `${route.path}?${formEncode(body).join('&')}` });
        }
      }
    }
    if (posts) {
      for (let k = 0; k < 4; k++) probes.push({ method: route.method, path: route.path, contentType: 'application/x-www-form-urlencoded', body: pick(rawFormJunk) });
      for (let k = 0; k < 4; k++) probes.push({ method: route.method, path: route.path, contentType: 'application/json', body: pick(rawJsonJunk) });
      probes.push({ method: route.method, path: route.path, contentType: 'application/json', body: JSON.stringify(junk()) ?? 'null' });
      probes.push({ method: route.method, path: route.path, contentType: pick(['text/plain', 'application/xml', 'image/png', 'application/x-www-form-urlencoded; charset=latin1', 'application/json; charset=utf-16', '*/*', 'form']), body: 'amount=1&currency=usd' });
      probes.push({ method: route.method, path: route.path, body: 'amount=1' });
      probes.push({ method: route.method, path: route.path, contentType: 'application/json', body: '{"amount":1}', headers: { 'idempotency-key': pick(['   ', 'k'.repeat(5000), 'a,b', '\t', 'key\u00e9'.normalize('NFKD').replace(/[^\x20-\x7e]/g, '?')]) } });
    } else {
      for (let k = 0; k < 4; k++) probes.push({ method: route.method, path: `${route.path}?${pick(queryJunk)}` });
      probes.push({ method: route.method, path: route.path, contentType: 'application/json' });
    }
  }
  for (const [method, path] of idRoutes) {
    for (const id of oddIds) probes.push({ method, path: path(id), ...(method === 'POST' ? { contentType: 'application/x-www-form-urlencoded', body: '' } : {}) });
  }
  // Methods a route does not have, and wrong content on GET.
  for (const path of ['/v1/payment_intents', '/v1/balance', '/v1/refunds/x', '/v1/events']) {
    for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS']) probes.push({ method, path });
  }
  // The sandbox's 3-D Secure page answers HTML, not JSON: only "no 500" applies there.
  for (const ref of ['sca_nope', ...oddIds]) {
    probes.push({ method: 'GET', path: `/sandbox/cards/3ds/${ref}`, htmlOk: true });
    probes.push({ method: 'POST', path: `/sandbox/cards/3ds/${ref}`, contentType: 'application/x-www-form-urlencoded', body: pick(['result=approve', 'result=maybe', 'result[]=fail', '', '%ZZ']), htmlOk: true });
  }
  return probes;
}

interface Finding {
  readonly probe: Probe;
  readonly status: number;
  readonly body: string;
  readonly problem: string;
}

async function send(probe: Probe): Promise<Finding | undefined> {
  const headers: Record<string, string> = { authorization: `Bearer ${shop.secretKey}`, ...probe.headers };
  if (probe.contentType !== undefined) headers['content-type'] = probe.contentType;
  let response: Response;
  try {
    response = await fetch(`${env.url}${probe.path}`, { method: probe.method, headers, ...(probe.body !== undefined ? { body: probe.body } : {}), redirect: 'manual' });
  } catch (error) {
    return { probe, status: 0, body: String(error), problem: 'the connection failed' };
  }
  const text = await response.text();
  if (response.status >= 500) return { probe, status: response.status, body: text, problem: 'a server error' };
  if (probe.htmlOk || (probe.method === 'OPTIONS' && response.status < 300)) return undefined;
  let body: { error?: { type?: unknown; message?: unknown }; object?: unknown };
  try {
    body = JSON.parse(text);
  } catch {
    return { probe, status: response.status, body: text, problem: 'a body that is not JSON' };
  }
  if (response.status >= 400) {
    if (typeof body?.error?.type !== 'string' || typeof body.error.message !== 'string') return { probe, status: response.status, body: text, problem: 'an error without error.type and error.message' };
  } else if (typeof body?.object !== 'string') {
    return { probe, status: response.status, body: text, problem: 'a success without an object field' };
  }
  return undefined;
}

describe('malformed requests', () => {
  it('never produce a 500, and every refusal is a Stripe-shaped error', async () => {
    const probes = buildProbes();
    expect(probes.length).toBeGreaterThan(500);
    const findings: Finding[] = [];
    let next = 0;
    const statuses = new Map<number, number>();
    // Eight at a time: enough to be quick, few enough not to queue on the database pool.
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < probes.length) {
          const probe = probes[next++]!;
          const finding = await send(probe);
          if (finding) findings.push(finding);
        }
      }),
    );
    for (const f of findings) statuses.set(f.status, (statuses.get(f.status) ?? 0) + 1);
    const report = findings
      .slice(0, Number(process.env.FUZZ_REPORT_MAX ?? 25))
      .map((f) => `${f.problem}: ${f.status} ${f.probe.method} ${f.probe.path.slice(0, 120)} [${f.probe.contentType ?? '-'}] ${(f.probe.body ?? '').slice(0, 160)} → ${f.body.slice(0, 200)}`)
      .join('\n');
    expect(findings, `seed ${seed}: ${findings.length} of ${probes.length} requests misbehaved\n${report}`).toEqual([]);
  });

  it('still serves ordinary requests afterwards', async () => {
    const pi = await shop.stripe.paymentIntents.create({ amount: 1_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    expect(pi.status).toBe('succeeded');
    const healthy = await fetch(`${env.url}/readyz`);
    expect(healthy.status).toBe(200);
  });
});
