/** Updating a PaymentIntent: amounts and methods before confirmation, descriptive fields any time. */
import { AppError, applyMetadata, type MetadataPatch } from '../kernel/index.ts';
import { getCustomer } from '../customers/index.ts';
import { getPaymentIntent, intentUpdate, nextVersion, serializePaymentIntent, type PaymentIntentRow } from '../payments/index.ts';
import type { FlowResponse } from './apply-attempt-outcome.ts';
import { unexpectedState } from './confirm-payment-intent.ts';
import { resolvePaymentMethod } from './payment-method-flows.ts';
import { commit, mergeWriteSets, retryOnConflict, type RequestContext, type Services } from './services.ts';

export interface UpdatePaymentIntentInput {
  readonly amount?: bigint | undefined;
  readonly currency?: string | undefined;
  readonly captureMethod?: 'automatic' | 'manual' | undefined;
  readonly paymentMethodId?: string | undefined;
  readonly paymentMethodTypes?: readonly string[] | undefined;
  readonly customerId?: string | undefined;
  readonly description?: string | null | undefined;
  readonly receiptEmail?: string | null | undefined;
  readonly statementDescriptor?: string | null | undefined;
  readonly metadata?: MetadataPatch | undefined;
}

const beforeConfirmation = ['requires_payment_method', 'requires_confirmation'];

export async function updatePaymentIntent(services: Services, ctx: RequestContext, id: string, input: UpdatePaymentIntentInput): Promise<FlowResponse> {
  return await retryOnConflict(async () => {
    const intent = await getPaymentIntent(services.db, ctx.tenant, id);
    if (!intent) throw new AppError('resource_missing', { param: 'intent', message: `No such payment_intent: '${id}'` });
    const changesPayment =
      input.amount !== undefined || input.currency !== undefined || input.captureMethod !== undefined ||
      input.paymentMethodId !== undefined || input.paymentMethodTypes !== undefined;
    if (changesPayment && !beforeConfirmation.includes(intent.status)) throw unexpectedState(intent, 'updated this way');
    if (['succeeded', 'canceled'].includes(intent.status) && (input.customerId !== undefined || input.receiptEmail !== undefined || input.statementDescriptor !== undefined)) {
      throw unexpectedState(intent, 'updated this way');
    }
    const customerId = input.customerId ?? intent.customer_id;
    if (input.customerId !== undefined && input.customerId !== intent.customer_id) {
      if (!(await getCustomer(services.db, ctx.tenant, input.customerId))) throw new AppError('resource_missing', { param: 'customer', message: `No such customer: '${input.customerId}'` });
    }
    for (const type of input.paymentMethodTypes ?? []) {
      if (!services.channels.forPaymentMethodType(type)) throw new AppError('payment_method_type_unsupported', { param: 'payment_method_types', message: `The payment method type '${type}' is not supported.` });
    }
    const paymentMethod =
      input.paymentMethodId === undefined ? undefined : await resolvePaymentMethod(services, ctx, { paymentMethodId: input.paymentMethodId, customerId, param: 'payment_method' });
    const now = services.now();
    const patch: Partial<PaymentIntentRow> = {
      metadata: applyMetadata(intent.metadata, input.metadata),
      customer_id: customerId,
    };
    if (input.amount !== undefined) patch.amount = input.amount;
    if (input.currency !== undefined) patch.currency = input.currency;
    if (input.captureMethod !== undefined) patch.capture_method = input.captureMethod;
    if (input.paymentMethodTypes !== undefined) patch.payment_method_types = [...input.paymentMethodTypes];
    if (input.description !== undefined) patch.description = input.description;
    if (input.receiptEmail !== undefined) patch.receipt_email = input.receiptEmail;
    if (input.statementDescriptor !== undefined) patch.statement_descriptor = input.statementDescriptor;
    if (paymentMethod) {
      patch.payment_method_id = paymentMethod.row.id;
      patch.status = 'requires_confirmation';
    }
    const next = nextVersion(intent, patch, now);
    const body = serializePaymentIntent(next);
    const scope = ctx.idempotency;
    await commit(
      services,
      ctx,
      mergeWriteSets(paymentMethod?.writes ?? {}, {
        guards: [{ table: 'payment_intents', id, version: intent.version }],
        updates: [intentUpdate(next), ...(scope ? [scope.complete({ status: 200, body })] : [])],
      }),
      { resourceId: id },
    );
    if (scope) scope.completed = true;
    return { status: 200, body };
  });
}
