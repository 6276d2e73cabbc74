/**
 * Shape checks for the conformance suite: the fields and JSON types of Stripe's own example objects
 * (Stripe's OpenAPI fixtures, `stripe-fixtures3.json`), written out here so the suite needs nothing
 * outside the repository. A field listed here must be present; its value must have the listed type.
 *
 * Left out on purpose (fields Stripe added after Fenpay's subset was drawn, or expandable extras):
 * payment_intent.customer_account / excluded_payment_method_types / managed_payments,
 * payment_method.customer_account, refund.customer / customer_account / payment_method,
 * customer.discount / invoice_prefix / next_invoice_sequence, balance.connect_reserved.
 */
import Stripe from 'stripe';
import { expect } from 'vitest';

type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'null';

const s: Kind[] = ['string'];
const i: Kind[] = ['integer'];
const b: Kind[] = ['boolean'];
const o: Kind[] = ['object'];
const a: Kind[] = ['array'];
const ns: Kind[] = ['null', 'string'];
const ni: Kind[] = ['null', 'integer'];
const no: Kind[] = ['null', 'object'];

export const stripeFields = {
  payment_intent: {
    id: s, object: s, amount: i, amount_capturable: i, amount_details: o, amount_received: i, application: ns,
    application_fee_amount: ni, automatic_payment_methods: no, canceled_at: ni, cancellation_reason: ns, capture_method: s,
    client_secret: ns, confirmation_method: s, created: i, currency: s, customer: ns, description: ns, last_payment_error: no,
    latest_charge: ns, livemode: b, metadata: o, next_action: no, on_behalf_of: ns, payment_method: ns,
    payment_method_configuration_details: no, payment_method_options: no, payment_method_types: a, processing: no,
    receipt_email: ns, review: ns, setup_future_usage: ns, shipping: no, source: ns, statement_descriptor: ns,
    statement_descriptor_suffix: ns, status: s, transfer_data: no, transfer_group: ns,
  },
  payment_method: {
    id: s, object: s, allow_redisplay: s, billing_details: o, card: o, created: i, customer: ns, livemode: b, metadata: o, type: s,
  },
  card: {
    brand: s, checks: no, country: ns, display_brand: ns, exp_month: i, exp_year: i, fingerprint: ns, funding: s, generated_from: no,
    last4: s, networks: no, three_d_secure_usage: no, wallet: no,
  },
  customer: {
    id: s, object: s, address: no, balance: i, created: i, currency: ns, default_source: ns, delinquent: ['null', 'boolean'],
    description: ns, email: ns, invoice_settings: o, livemode: b, metadata: o, name: ns, phone: ns, preferred_locales: a,
    shipping: no, tax_exempt: s, test_clock: ns,
  },
  refund: {
    id: s, object: s, amount: i, balance_transaction: ns, charge: ns, created: i, currency: s, destination_details: no, metadata: o,
    payment_intent: ns, reason: ns, receipt_number: ns, source_transfer_reversal: ns, status: s, transfer_reversal: ns,
  },
  balance: { object: s, available: a, livemode: b, pending: a },
  balance_transaction: {
    id: s, object: s, amount: i, available_on: i, balance_type: s, created: i, currency: s, description: ns,
    exchange_rate: ['null', 'number', 'integer'], fee: i, fee_details: a, net: i, reporting_category: s, source: ns, status: s, type: s,
  },
  event: { id: s, object: s, api_version: ns, created: i, data: o, livemode: b, pending_webhooks: i, request: no, type: s },
  list: { object: s, data: a, has_more: b, url: s },
} as const satisfies Record<string, Record<string, Kind[]>>;

export type StripeKind = keyof typeof stripeFields;

const idPrefix: Partial<Record<StripeKind, string>> = {
  payment_intent: 'pi', payment_method: 'pm', customer: 'cus', refund: 're', balance_transaction: 'txn', event: 'evt',
};

function kindOf(value: unknown): Kind {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as Kind;
}

/** Unix seconds, close to now: not milliseconds, not an ISO string. */
export function expectUnixSeconds(value: unknown, label = 'created'): void {
  expect(Number.isInteger(value), `${label} is an integer`).toBe(true);
  const now = Date.now() / 1000;
  expect(Math.abs((value as number) - now), `${label}=${String(value)} is Unix seconds near now`).toBeLessThan(600);
}

/** Asserts the object has Stripe's fields with Stripe's JSON types, the right `object` and id prefix. */
export function expectStripeShape(kind: StripeKind, value: unknown): void {
  expect(value, `${kind} is an object`).toBeTypeOf('object');
  const record = value as Record<string, unknown>;
  const fields: Record<string, readonly Kind[]> = stripeFields[kind];
  for (const [field, kinds] of Object.entries(fields)) {
    expect(Object.hasOwn(record, field), `${kind}.${field} is present`).toBe(true);
    const actual = kindOf(record[field]);
    const ok = kinds.includes(actual) || (actual === 'integer' && kinds.includes('number'));
    expect(ok, `${kind}.${field} is ${kinds.join('|')}, got ${actual} (${JSON.stringify(record[field])})`).toBe(true);
  }
  if (kind === 'card') return;
  expect(record.object).toBe(kind);
  const prefix = idPrefix[kind];
  if (prefix) expect(record.id).toMatch(new RegExp(`^${prefix}_[0-9A-Za-z]+$`));
  if (kind !== 'balance' && kind !== 'list') expectUnixSeconds(record.created);
  if (kind === 'payment_method' && record.type === 'card') expectStripeShape('card', record.card);
  if (kind === 'list') for (const item of record.data as unknown[]) expect(item).toBeTypeOf('object');
}

/** The Stripe error envelope every failure must have. */
export function expectStripeError(body: unknown, expected: { type?: string; code?: string; param?: string } = {}): Record<string, unknown> {
  expect(body, 'error body is an object').toBeTypeOf('object');
  const error = (body as { error?: Record<string, unknown> }).error;
  expect(error, `body has an error: ${JSON.stringify(body)}`).toBeTypeOf('object');
  expect(typeof error!.type, 'error.type is a string').toBe('string');
  expect(typeof error!.message, 'error.message is a string').toBe('string');
  expect((error!.message as string).length).toBeGreaterThan(0);
  if (expected.type !== undefined) expect(error!.type).toBe(expected.type);
  if (expected.code !== undefined) expect(error!.code).toBe(expected.code);
  if (expected.param !== undefined) expect(error!.param).toBe(expected.param);
  return error!;
}

type StripeErrorClass = typeof Stripe.errors.StripeError;

/** Awaits a call that must fail with the given SDK error class; returns the error for further checks. */
export async function sdkFailure<C extends StripeErrorClass>(call: Promise<unknown>, errorClass: C): Promise<InstanceType<C>> {
  let result: unknown;
  try {
    result = await call;
  } catch (error) {
    expect(error, `an SDK error of class ${errorClass.name}, got ${String(error)}`).toBeInstanceOf(errorClass);
    return error as InstanceType<C>;
  }
  return expect.fail(`expected ${errorClass.name}, but the call succeeded: ${JSON.stringify(result).slice(0, 300)}`);
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies field by field
  readonly body: any;
}

/** One HTTP request with fetch, bypassing the SDK: for auth schemes, encodings and malformed input. */
export async function rawRequest(
  baseUrl: string,
  input: { method?: string; path: string; key?: string; authorization?: string; body?: string | Uint8Array; contentType?: string; headers?: Record<string, string> },
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...input.headers };
  if (input.authorization !== undefined) headers.authorization = input.authorization;
  else if (input.key !== undefined) headers.authorization = `Bearer ${input.key}`;
  if (input.contentType !== undefined) headers['content-type'] = input.contentType;
  const response = await fetch(`${baseUrl}${input.path}`, { method: input.method ?? 'GET', headers, body: input.body ?? null, redirect: 'manual' });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}
