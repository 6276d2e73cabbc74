/** Creating, attaching and detaching PaymentMethods; resolving the one a PaymentIntent will use. */
import { AppError, detectBrand, luhnValid, newId, normalizeCardNumber, Secret } from '../kernel/index.ts';
import type { WriteSet } from '../db/index.ts';
import { eventRow } from '../events/index.ts';
import { getCustomer } from '../customers/index.ts';
import { getPaymentMethod, serializePaymentMethod, testPaymentMethodCards, type PaymentMethodRow } from '../payment-methods/index.ts';
import { commit, mergeWriteSets, retryOnConflict, type RequestContext, type Services } from './services.ts';

export interface CardInput {
  readonly number: string;
  readonly expMonth: number;
  readonly expYear: number;
}

export interface CreatePaymentMethodInput {
  readonly type: string;
  readonly card: CardInput | undefined;
  readonly billingDetails: Record<string, unknown> | undefined;
  readonly metadata: Record<string, string> | undefined;
}

export interface BuiltPaymentMethod {
  readonly row: PaymentMethodRow;
  /** The card number when it was just entered (saves a vault read); otherwise read from the vault. */
  readonly card: Secret<string> | undefined;
  /** The rows to write with it (nothing for a PaymentMethod that already exists). */
  readonly writes: WriteSet;
}

const brandCountry: Record<string, string> = { unionpay: 'CN', jcb: 'JP' };

/** Validates a card and builds its PaymentMethod row plus the vault row; nothing is written yet. */
export function buildCardPaymentMethod(
  services: Services,
  ctx: RequestContext,
  input: {
    card: CardInput;
    billingDetails?: Record<string, unknown> | undefined;
    metadata?: Record<string, string> | undefined;
    customerId?: string | null;
    /** A published test card (Stripe's `pm_card_*`): its vault row is shared, inserted if absent. */
    publicTestCard?: boolean;
  },
): BuiltPaymentMethod {
  if (ctx.tenant.livemode && !ctx.handlesCardData) throw new AppError('card_data_not_allowed', { param: 'card[number]' });
  const digits = normalizeCardNumber(input.card.number);
  if (digits === undefined || !luhnValid(digits)) throw new AppError('incorrect_number', { param: 'card[number]', message: 'Your card number is incorrect.' });
  const { expMonth, expYear } = input.card;
  if (!Number.isInteger(expMonth) || expMonth < 1 || expMonth > 12) throw new AppError('invalid_expiry_month', { param: 'card[exp_month]', message: "Your card's expiration month is invalid." });
  const now = services.now();
  const year = expYear < 100 ? 2000 + expYear : expYear;
  const currentYear = now.getUTCFullYear();
  if (!Number.isInteger(year) || year < currentYear || year > currentYear + 50 || (year === currentYear && expMonth < now.getUTCMonth() + 1)) {
    throw new AppError('invalid_expiry_year', { param: 'card[exp_year]', message: "Your card's expiration year is invalid." });
  }
  const brand = detectBrand(digits);
  const sealInput = { merchantId: ctx.tenant.merchantId, number: new Secret(digits) };
  const shared = input.publicTestCard === true;
  const sealed = shared ? services.vault.sealTestCard(sealInput) : services.vault.seal(sealInput);
  // A shared test-card row may exist already; a card of the payer's own is always a new row.
  const vaultWrite: WriteSet = shared ? { insertsIfAbsent: [{ table: 'vault_cards', row: sealed.row, conflictColumns: ['token'] }] } : { inserts: [{ table: 'vault_cards', row: sealed.row }] };
  const row: PaymentMethodRow = {
    id: newId('paymentMethod'),
    merchant_id: ctx.tenant.merchantId,
    livemode: ctx.tenant.livemode,
    type: 'card',
    customer_id: input.customerId ?? null,
    card_brand: brand,
    card_last4: digits.slice(-4),
    card_exp_month: expMonth,
    card_exp_year: year,
    card_funding: 'credit',
    card_country: brandCountry[brand] ?? 'US',
    card_fingerprint: sealed.fingerprint,
    vault_token: sealed.token,
    billing_details: input.billingDetails ?? {},
    metadata: input.metadata ?? {},
    version: 1,
    created_at: now,
  };
  return {
    row,
    card: new Secret(digits),
    writes: mergeWriteSets(vaultWrite, { inserts: [{ table: 'payment_methods', row: { ...row } }] }),
  };
}

/** Payment method types that carry no card data: the payer approves at the provider (wallets, bank redirects). */
export const walletPaymentMethodTypes: readonly string[] = ['alipay', 'wechat_pay', 'unionpay'];

export interface PaymentMethodData {
  readonly type: string;
  readonly billingDetails?: Record<string, unknown> | undefined;
  readonly metadata?: Record<string, string> | undefined;
}

/**
 * Per-method options (Stripe's `payment_method_options`): `wechat_pay[client]` = web | mobile | ios |
 * android (QR, H5 redirect, app SDK), and Fenpay's `[fenpay_flow]` = qr | page | wap | app | jsapi for
 * alipay, wechat_pay and unionpay; `wechat_pay[fenpay_openid]` for JSAPI.
 */
export type PaymentMethodOptions = Readonly<Record<string, Readonly<Record<string, string>>>>;

const flows = ['qr', 'page', 'wap', 'app', 'jsapi'];
const optionRules: Readonly<Record<string, Readonly<Record<string, readonly string[] | 'text'>>>> = {
  alipay: { fenpay_flow: ['qr', 'page', 'wap', 'app'] },
  wechat_pay: { client: ['web', 'mobile', 'ios', 'android'], fenpay_flow: flows, fenpay_openid: 'text', app_id: 'text' },
  unionpay: { fenpay_flow: ['page', 'wap'] },
  card: { request_three_d_secure: ['automatic', 'any', 'challenge'] },
};

export function checkPaymentMethodOptions(options: PaymentMethodOptions | undefined, types: readonly string[]): Record<string, Record<string, string>> {
  const checked: Record<string, Record<string, string>> = {};
  for (const [type, values] of Object.entries(options ?? {})) {
    const rules = optionRules[type];
    if (!rules) throw new AppError('parameter_unknown', { param: `payment_method_options[${type}]`, message: `Received unknown parameter: payment_method_options[${type}]` });
    if (!types.includes(type)) throw new AppError('parameter_invalid', { param: `payment_method_options[${type}]`, message: `payment_method_options[${type}] is given, but ${type} is not in payment_method_types.` });
    for (const [key, value] of Object.entries(values)) {
      const rule = rules[key];
      const param = `payment_method_options[${type}][${key}]`;
      if (rule === undefined) throw new AppError('parameter_unknown', { param, message: `Received unknown parameter: ${param}` });
      if (typeof value !== 'string' || (rule === 'text' ? value.length === 0 || value.length > 128 : !rule.includes(value))) {
        throw new AppError('parameter_invalid', { param, message: rule === 'text' ? `Invalid ${param}.` : `Invalid ${param}: must be one of ${rule.join(', ')}.` });
      }
    }
    checked[type] = { ...values };
  }
  return checked;
}

/** A PaymentMethod of a type without card data (alipay, wechat_pay, unionpay); nothing is written yet. */
export function buildWalletPaymentMethod(services: Services, ctx: RequestContext, input: PaymentMethodData & { param: string }): BuiltPaymentMethod {
  // Whether a channel serves it in this mode is decided at confirmation (the merchant's channel accounts).
  if (!walletPaymentMethodTypes.includes(input.type)) {
    throw new AppError('payment_method_type_unsupported', { param: input.param, message: `PaymentMethods of type '${input.type}' are not supported.` });
  }
  const row: PaymentMethodRow = {
    id: newId('paymentMethod'),
    merchant_id: ctx.tenant.merchantId,
    livemode: ctx.tenant.livemode,
    type: input.type,
    customer_id: null,
    card_brand: null,
    card_last4: null,
    card_exp_month: null,
    card_exp_year: null,
    card_funding: null,
    card_country: null,
    card_fingerprint: null,
    vault_token: null,
    billing_details: input.billingDetails ?? {},
    metadata: input.metadata ?? {},
    version: 1,
    created_at: services.now(),
  };
  return { row, card: undefined, writes: { inserts: [{ table: 'payment_methods', row: { ...row } }] } };
}

export async function createPaymentMethod(services: Services, ctx: RequestContext, input: CreatePaymentMethodInput): Promise<Record<string, unknown>> {
  let built: BuiltPaymentMethod;
  if (input.type === 'card') {
    if (!input.card) throw new AppError('parameter_missing', { param: 'card', message: 'Missing required param: card.' });
    built = buildCardPaymentMethod(services, ctx, { card: input.card, billingDetails: input.billingDetails, metadata: input.metadata });
  } else {
    built = buildWalletPaymentMethod(services, ctx, { type: input.type, billingDetails: input.billingDetails, metadata: input.metadata, param: 'type' });
  }
  const body = serializePaymentMethod(built.row);
  const scope = ctx.idempotency;
  await commit(services, ctx, mergeWriteSets(built.writes, { updates: scope ? [scope.complete({ status: 200, body })] : [] }), { resourceId: built.row.id });
  if (scope) scope.completed = true;
  return body;
}

/**
 * The PaymentMethod a PaymentIntent will use. Stripe's test ids (pm_card_visa, …) make a fresh
 * PaymentMethod from the matching test card, in test mode only.
 */
export async function resolvePaymentMethod(
  services: Services,
  ctx: RequestContext,
  input: { paymentMethodId: string; customerId: string | null; param: string },
): Promise<BuiltPaymentMethod> {
  const testNumber = testPaymentMethodCards[input.paymentMethodId];
  if (testNumber !== undefined) {
    if (ctx.tenant.livemode) throw new AppError('resource_missing', { param: input.param, message: `No such PaymentMethod: '${input.paymentMethodId}'; test PaymentMethods work in test mode only.` });
    const year = services.now().getUTCFullYear() + 3;
    return buildCardPaymentMethod(services, { ...ctx, handlesCardData: true }, { card: { number: testNumber, expMonth: 12, expYear: year }, customerId: null, publicTestCard: true });
  }
  const row = await getPaymentMethod(services.db, ctx.tenant, input.paymentMethodId);
  if (!row) throw new AppError('resource_missing', { param: input.param, message: `No such PaymentMethod: '${input.paymentMethodId}'` });
  if (row.customer_id !== null && row.customer_id !== input.customerId) {
    throw new AppError('payment_method_unexpected_state', {
      param: input.param,
      message: `The PaymentMethod ${row.id} is attached to customer ${row.customer_id}; pass that customer to use it.`,
    });
  }
  return { row, card: undefined, writes: {} };
}

export async function attachPaymentMethod(services: Services, ctx: RequestContext, input: { paymentMethodId: string; customerId: string }): Promise<Record<string, unknown>> {
  return await retryOnConflict(async () => {
    const pm = await getPaymentMethod(services.db, ctx.tenant, input.paymentMethodId);
    if (!pm) throw new AppError('resource_missing', { param: 'payment_method', message: `No such PaymentMethod: '${input.paymentMethodId}'` });
    const customer = await getCustomer(services.db, ctx.tenant, input.customerId);
    if (!customer) throw new AppError('resource_missing', { param: 'customer', message: `No such customer: '${input.customerId}'` });
    if (pm.customer_id === input.customerId) return serializePaymentMethod(pm);
    if (pm.customer_id !== null) {
      throw new AppError('payment_method_unexpected_state', { param: 'customer', message: `The PaymentMethod ${pm.id} is already attached to another customer.` });
    }
    const next: PaymentMethodRow = { ...pm, customer_id: input.customerId, version: pm.version + 1 };
    const body = serializePaymentMethod(next);
    const now = services.now();
    const scope = ctx.idempotency;
    const writeSet: WriteSet = {
      guards: [{ table: 'payment_methods', id: pm.id, version: pm.version }],
      updates: [
        { table: 'payment_methods', key: { id: pm.id }, set: { customer_id: input.customerId, version: next.version } },
        ...(scope ? [scope.complete({ status: 200, body })] : []),
      ],
      inserts: [eventRow({ tenant: ctx.tenant, type: 'payment_method.attached', object: body as { id: string }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now })],
    };
    await commit(services, ctx, writeSet, { resourceId: pm.id });
    if (scope) scope.completed = true;
    return body;
  });
}

export async function detachPaymentMethod(services: Services, ctx: RequestContext, input: { paymentMethodId: string }): Promise<Record<string, unknown>> {
  return await retryOnConflict(async () => {
    const pm = await getPaymentMethod(services.db, ctx.tenant, input.paymentMethodId);
    if (!pm) throw new AppError('resource_missing', { param: 'payment_method', message: `No such PaymentMethod: '${input.paymentMethodId}'` });
    if (pm.customer_id === null) {
      throw new AppError('payment_method_unexpected_state', { message: `The PaymentMethod ${pm.id} is not attached to a customer.` });
    }
    const next: PaymentMethodRow = { ...pm, customer_id: null, version: pm.version + 1 };
    const body = serializePaymentMethod(next);
    const scope = ctx.idempotency;
    // A detached PaymentMethod cannot stay its former customer's default.
    const customer = await getCustomer(services.db, ctx.tenant, pm.customer_id, { includeDeleted: true });
    const clearDefault = customer !== undefined && customer.invoice_default_payment_method === pm.id;
    await commit(
      services,
      ctx,
      {
        guards: [
          { table: 'payment_methods', id: pm.id, version: pm.version },
          ...(clearDefault ? [{ table: 'customers' as const, id: customer.id, version: customer.version }] : []),
        ],
        updates: [
          ...(clearDefault ? [{ table: 'customers' as const, key: { id: customer.id }, set: { invoice_default_payment_method: null, version: customer.version + 1 } }] : []),
          { table: 'payment_methods', key: { id: pm.id }, set: { customer_id: null, version: next.version } },
          ...(scope ? [scope.complete({ status: 200, body })] : []),
        ],
        inserts: [eventRow({ tenant: ctx.tenant, type: 'payment_method.detached', object: body as { id: string }, previousAttributes: { customer: pm.customer_id }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: services.now() })],
      },
      { resourceId: pm.id },
    );
    if (scope) scope.completed = true;
    return body;
  });
}
