/** Creating a PaymentIntent, optionally confirming it in the same request (`confirm=true`). */
import { randomToken } from '../kernel/index.ts';
import { AppError, applyMetadata, newId, type MetadataPatch } from '../kernel/index.ts';
import { getCustomer } from '../customers/index.ts';
import { eventRow } from '../events/index.ts';
import { serializePaymentIntent, type PaymentIntentRow } from '../payments/index.ts';
import type { FlowResponse } from './apply-attempt-outcome.ts';
import { finishAttempt, startAttempt } from './confirm-payment-intent.ts';
import { buildWalletPaymentMethod, checkPaymentMethodOptions, resolvePaymentMethod, type PaymentMethodData, type PaymentMethodOptions } from './payment-method-flows.ts';
import { commit, mergeWriteSets, type RequestContext, type Services } from './services.ts';

export interface CreatePaymentIntentInput {
  readonly amount: bigint;
  readonly currency: string;
  readonly captureMethod: 'automatic' | 'manual';
  readonly confirmationMethod: 'automatic' | 'manual';
  readonly paymentMethodTypes: readonly string[];
  readonly paymentMethodId: string | undefined;
  readonly customerId: string | undefined;
  readonly description: string | undefined;
  readonly receiptEmail: string | undefined;
  readonly statementDescriptor: string | undefined;
  readonly returnUrl: string | undefined;
  readonly metadata: MetadataPatch | undefined;
  readonly confirm: boolean;
  /** Stripe's `payment_method_data`: a PaymentMethod made inline (wallet types such as alipay, wechat_pay). */
  readonly paymentMethodData?: PaymentMethodData | undefined;
  readonly paymentMethodOptions?: PaymentMethodOptions | undefined;
}

export async function createPaymentIntent(services: Services, ctx: RequestContext, input: CreatePaymentIntentInput): Promise<FlowResponse> {
  for (const type of input.paymentMethodTypes) {
    if (!services.channels.forPaymentMethodType(type)) {
      throw new AppError('payment_method_type_unsupported', { param: 'payment_method_types', message: `The payment method type '${type}' is not supported.` });
    }
  }
  if (input.customerId !== undefined) {
    const customer = await getCustomer(services.db, ctx.tenant, input.customerId);
    if (!customer) throw new AppError('resource_missing', { param: 'customer', message: `No such customer: '${input.customerId}'` });
  }
  if (input.paymentMethodId !== undefined && input.paymentMethodData !== undefined) {
    throw new AppError('parameter_invalid', { param: 'payment_method_data', message: 'You cannot pass both payment_method and payment_method_data.' });
  }
  const paymentMethod =
    input.paymentMethodData !== undefined
      ? buildWalletPaymentMethod(services, ctx, { ...input.paymentMethodData, param: 'payment_method_data[type]' })
      : input.paymentMethodId === undefined
        ? undefined
        : await resolvePaymentMethod(services, ctx, { paymentMethodId: input.paymentMethodId, customerId: input.customerId ?? null, param: 'payment_method' });
  if (input.confirm && paymentMethod === undefined) {
    throw new AppError('payment_method_required', { param: 'payment_method', message: 'You cannot confirm this PaymentIntent because it is missing a payment method.' });
  }

  const now = services.now();
  const id = newId('paymentIntent');
  const intent: PaymentIntentRow = {
    id,
    merchant_id: ctx.tenant.merchantId,
    livemode: ctx.tenant.livemode,
    amount: input.amount,
    currency: input.currency,
    status: paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
    capture_method: input.captureMethod,
    confirmation_method: input.confirmationMethod,
    payment_method_types: [...input.paymentMethodTypes],
    customer_id: input.customerId ?? null,
    payment_method_id: paymentMethod?.row.id ?? null,
    description: input.description ?? null,
    receipt_email: input.receiptEmail ?? null,
    statement_descriptor: input.statementDescriptor ?? null,
    return_url: input.returnUrl ?? null,
    metadata: applyMetadata({}, input.metadata),
    amount_capturable: 0n,
    amount_received: 0n,
    amount_refunded: 0n,
    latest_attempt_id: null,
    next_action: null,
    payment_method_options: checkPaymentMethodOptions(input.paymentMethodOptions, input.paymentMethodTypes),
    last_payment_error: null,
    cancellation_reason: null,
    canceled_at: null,
    client_secret: `${id}_secret_${randomToken(24)}`,
    expires_at: new Date(now.getTime() + services.config.paymentIntentExpirySeconds * 1000),
    capture_before: null,
    version: 1,
    created_at: now,
    updated_at: now,
  };

  if (input.confirm && paymentMethod) {
    const started = await startAttempt(services, ctx, { intent, paymentMethod, isNew: true, returnUrl: input.returnUrl, receiptEmail: input.receiptEmail, extraWrites: {} });
    return await finishAttempt(services, ctx, started);
  }

  const body = serializePaymentIntent(intent);
  const scope = ctx.idempotency;
  await commit(
    services,
    ctx,
    mergeWriteSets(paymentMethod?.writes ?? {}, {
      inserts: [
        { table: 'payment_intents', row: { ...intent } },
        eventRow({ tenant: ctx.tenant, type: 'payment_intent.created', object: body as { id: string }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now }),
      ],
      updates: scope ? [scope.complete({ status: 200, body })] : [],
    }),
    { resourceId: id },
  );
  if (scope) scope.completed = true;
  return { status: 200, body };
}
