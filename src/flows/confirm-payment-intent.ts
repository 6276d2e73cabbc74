/**
 * Confirming a PaymentIntent: the attempt is written before the channel is called (phase 1), the
 * channel answers (phase 2), the answer is booked (phase 3). A crash between phases leaves an attempt
 * in `processing` with a sync time, so the active-query job finds out what happened; nothing is lost
 * and nothing is charged twice, because a new attempt is only possible once this one is final.
 */
import { AppError, newId, type Secret } from '../kernel/index.ts';
import type { AuthorizeRequest, ChannelOutcome, PaymentFlow } from '../channels/channel.ts';
import type { WriteSet } from '../db/index.ts';
import { eventRow } from '../events/index.ts';
import {
  confirmableStatuses,
  getAttempt,
  getPaymentIntent,
  intentUpdate,
  nextVersion,
  serializePaymentIntent,
  type AttemptRow,
  type PaymentIntentRow,
} from '../payments/index.ts';
import type { PaymentMethodRow } from '../payment-methods/index.ts';
import { buildOutcomeApplication, type FlowResponse } from './apply-attempt-outcome.ts';
import { buildWalletPaymentMethod, checkPaymentMethodOptions, resolvePaymentMethod, type BuiltPaymentMethod, type PaymentMethodData, type PaymentMethodOptions } from './payment-method-flows.ts';
import { accountNotifyUrl, channelForAttempt } from './channel-accounts.ts';
import { routeNewAttempt } from './routing.ts';
import { builtInTarget, noteChannelCall } from './channel-health.ts';
import { commit, mergeWriteSets, retryOnConflict, VersionConflict, type RequestContext, type Services } from './services.ts';

export interface ConfirmInput {
  readonly paymentMethodId: string | undefined;
  readonly returnUrl: string | undefined;
  readonly receiptEmail: string | undefined;
  readonly paymentMethodData?: PaymentMethodData | undefined;
  readonly paymentMethodOptions?: PaymentMethodOptions | undefined;
}

/** How long a freshly sent attempt may stay unanswered before the sync job asks the channel. */
const firstSyncAfterSeconds = 30;

export interface StartedAttempt {
  readonly intent: PaymentIntentRow;
  readonly attempt: AttemptRow;
  readonly paymentMethod: BuiltPaymentMethod;
}

export function unexpectedState(intent: PaymentIntentRow, action: string): AppError {
  return new AppError('payment_intent_unexpected_state', {
    message: `This PaymentIntent's status is ${intent.status}, so it cannot be ${action}.`,
    extra: { payment_intent: serializePaymentIntent(intent) },
  });
}

export async function confirmPaymentIntent(services: Services, ctx: RequestContext, id: string, input: ConfirmInput): Promise<FlowResponse> {
  const started = await retryOnConflict(async () => {
    const intent = await getPaymentIntent(services.db, ctx.tenant, id);
    if (!intent) throw new AppError('resource_missing', { param: 'intent', message: `No such payment_intent: '${id}'` });
    if (!confirmableStatuses.includes(intent.status)) throw unexpectedState(intent, 'confirmed');
    if (input.paymentMethodId !== undefined && input.paymentMethodData !== undefined) {
      throw new AppError('parameter_invalid', { param: 'payment_method_data', message: 'You cannot pass both payment_method and payment_method_data.' });
    }
    const options = input.paymentMethodOptions === undefined ? undefined : { ...intent.payment_method_options, ...checkPaymentMethodOptions(input.paymentMethodOptions, intent.payment_method_types) };
    const withOptions = options === undefined ? intent : { ...intent, payment_method_options: options };
    if (input.paymentMethodData !== undefined) {
      const paymentMethod = buildWalletPaymentMethod(services, ctx, { ...input.paymentMethodData, param: 'payment_method_data[type]' });
      return await startAttempt(services, ctx, { intent: withOptions, paymentMethod, isNew: false, returnUrl: input.returnUrl, receiptEmail: input.receiptEmail, extraWrites: {} });
    }
    const paymentMethodId = input.paymentMethodId ?? intent.payment_method_id;
    if (paymentMethodId === null || paymentMethodId === undefined) {
      throw new AppError('payment_method_required', { param: 'payment_method', message: 'You cannot confirm this PaymentIntent because it is missing a payment method.' });
    }
    const paymentMethod = await resolvePaymentMethod(services, ctx, { paymentMethodId, customerId: intent.customer_id, param: 'payment_method' });
    return await startAttempt(services, ctx, { intent: withOptions, paymentMethod, isNew: false, returnUrl: input.returnUrl, receiptEmail: input.receiptEmail, extraWrites: {} });
  });
  return await finishAttempt(services, ctx, started);
}

/** Phase 1: write the attempt and move the intent to `processing`, in one WriteSet (with the idempotency claim). */
export async function startAttempt(
  services: Services,
  ctx: RequestContext,
  input: {
    intent: PaymentIntentRow;
    paymentMethod: BuiltPaymentMethod;
    isNew: boolean;
    returnUrl: string | undefined;
    receiptEmail: string | undefined;
    extraWrites: WriteSet;
  },
): Promise<StartedAttempt> {
  const { intent, paymentMethod } = input;
  const pm = paymentMethod.row;
  if (!intent.payment_method_types.includes(pm.type)) {
    throw new AppError('payment_method_type_unsupported', {
      param: 'payment_method',
      message: `The PaymentMethod type ${pm.type} is not in this PaymentIntent's payment_method_types (${intent.payment_method_types.join(', ')}).`,
    });
  }
  const resolved = await routeNewAttempt(services, ctx.tenant, { type: pm.type, amount: intent.amount, currency: intent.currency, cardBrand: pm.card_brand ?? undefined });
  if (!resolved) {
    throw new AppError('payment_method_type_unsupported', {
      param: 'payment_method',
      message: `No ${intent.livemode ? 'live' : 'test'}-mode channel serves payment method type ${pm.type} yet${intent.livemode ? '; connect your account with POST /v1/channel_accounts' : ''}.`,
    });
  }
  const channel = resolved.adapter;
  if (intent.capture_method === 'manual' && !channel.capabilities.manualCapture) {
    throw new AppError('operation_not_supported', { param: 'capture_method', message: `${channel.displayName} does not support manual capture.` });
  }
  const now = services.now();
  const attemptId = newId('attempt');
  const attempt: AttemptRow = {
    id: attemptId,
    merchant_id: intent.merchant_id,
    livemode: intent.livemode,
    payment_intent_id: intent.id,
    payment_method_id: pm.id,
    channel: channel.id,
    channel_account_id: resolved.accountId,
    routing: resolved.decision,
    fee_bps: resolved.fee?.bps ?? null,
    fee_fixed: resolved.fee?.fixed ?? null,
    // The channel's order number: our idempotency key at the channel, unique per attempt.
    channel_order_no: attemptId.slice(3),
    channel_reference: null,
    amount: intent.amount,
    currency: intent.currency,
    capture_method: intent.capture_method,
    status: 'processing',
    amount_captured: 0n,
    amount_refunded: 0n,
    failure_code: null,
    decline_code: null,
    failure_message: null,
    auth_transfer_id: null,
    sync_count: 0,
    next_sync_at: new Date(now.getTime() + firstSyncAfterSeconds * 1000),
    version: 1,
    created_at: now,
    updated_at: now,
  };
  const patch: Partial<PaymentIntentRow> = {
    status: 'processing',
    payment_method_id: pm.id,
    latest_attempt_id: attemptId,
    last_payment_error: null,
    next_action: null,
    ...(input.returnUrl !== undefined ? { return_url: input.returnUrl } : {}),
    ...(input.receiptEmail !== undefined ? { receipt_email: input.receiptEmail } : {}),
  };
  let next: PaymentIntentRow;
  let writeSet: WriteSet;
  if (input.isNew) {
    next = { ...intent, ...patch };
    const created = serializePaymentIntent({ ...intent });
    writeSet = mergeWriteSets(paymentMethod.writes, {
      inserts: [
        { table: 'payment_intents', row: { ...next } },
        { table: 'payment_attempts', row: { ...attempt } },
        eventRow({ tenant: ctx.tenant, type: 'payment_intent.created', object: created as { id: string }, requestId: ctx.requestId, idempotencyKey: ctx.idempotency?.key, at: now }),
      ],
    });
  } else {
    next = nextVersion(intent, patch, now);
    writeSet = mergeWriteSets(paymentMethod.writes, {
      guards: [{ table: 'payment_intents', id: intent.id, version: intent.version }],
      inserts: [{ table: 'payment_attempts', row: { ...attempt } }],
      updates: [intentUpdate(next)],
    });
  }
  await commit(services, ctx, mergeWriteSets(writeSet, input.extraWrites), { resourceId: intent.id });
  return { intent: next, attempt, paymentMethod };
}

/** Phases 2 and 3: ask the channel, then book its answer (with the idempotent response). */
export async function finishAttempt(services: Services, ctx: RequestContext, started: StartedAttempt): Promise<FlowResponse> {
  const outcome = await authorizeAtChannel(services, ctx, started);
  let intent = started.intent;
  let attempt = started.attempt;
  const response = await retryOnConflict(async () => {
    if (attempt.status !== 'processing') {
      // Someone else (the sync job, a callback) already booked this attempt: answer with what is true now.
      return { status: 200, body: serializePaymentIntent(intent) } satisfies FlowResponse;
    }
    const applied = buildOutcomeApplication(services, ctx, { intent, attempt, outcome, paymentMethod: started.paymentMethod.row });
    const scope = ctx.idempotency;
    const writeSet = scope ? mergeWriteSets(applied.writeSet, { updates: [scope.complete(applied.response)] }) : applied.writeSet;
    try {
      await commit(services, ctx, writeSet, { resourceId: intent.id });
    } catch (error) {
      if (error instanceof VersionConflict) {
        const [freshIntent, freshAttempt] = await Promise.all([getPaymentIntent(services.db, ctx.tenant, intent.id), getAttempt(services.db, attempt.id)]);
        if (freshIntent && freshAttempt) {
          intent = freshIntent;
          attempt = freshAttempt;
        }
      }
      throw error;
    }
    if (scope) scope.completed = true;
    if (applied.syncAt) services.scheduleSync(attempt.id, applied.syncAt);
    return applied.response;
  });
  return response;
}

/** Where a channel posts its asynchronous notifications (unauthenticated; verified by the channel's signature). */
export function channelNotifyUrl(publicUrl: string, channelId: string): string {
  return `${publicUrl}/notify/${channelId}`;
}

/** The wallet flow from the intent's options: Fenpay's explicit `fenpay_flow`, else WeChat Pay's `client`. */
function walletFlow(intent: PaymentIntentRow, type: string): PaymentFlow | undefined {
  const options = intent.payment_method_options[type] ?? {};
  const explicit = options.fenpay_flow as PaymentFlow | undefined;
  if (explicit !== undefined) return explicit;
  if (type === 'wechat_pay') return ({ web: 'qr', mobile: 'wap', ios: 'app', android: 'app' } as const)[options.client as 'web'] ?? 'qr';
  if (type === 'alipay' || type === 'unionpay') return 'page';
  return undefined;
}

async function authorizeAtChannel(services: Services, ctx: RequestContext, started: StartedAttempt): Promise<ChannelOutcome> {
  const { attempt, intent, paymentMethod } = started;
  const channel = await channelForAttempt(services, attempt);
  if (!channel) return { status: 'processing', reference: undefined, reason: 'channel_unavailable' };
  try {
    const request: AuthorizeRequest = {
      orderNo: attempt.channel_order_no,
      amount: attempt.amount,
      currency: attempt.currency,
      capture: attempt.capture_method === 'manual' ? 'manual' : 'automatic',
      paymentMethod: await channelPaymentMethod(services, paymentMethod),
      description: intent.description ?? undefined,
      returnUrl: intent.return_url ?? undefined,
      livemode: intent.livemode,
      flow: walletFlow(intent, paymentMethod.row.type),
      notifyUrl: attempt.channel_account_id === null ? channelNotifyUrl(services.config.publicUrl, channel.id) : accountNotifyUrl(services.config.publicUrl, { channel: channel.id, id: attempt.channel_account_id }),
      subject: intent.description ?? intent.statement_descriptor ?? `Order ${intent.id}`,
      payer: { clientIp: ctx.clientIp, openId: intent.payment_method_options.wechat_pay?.fenpay_openid },
      expiresAt: intent.expires_at,
    };
    const outcome = await channel.authorize(request);
    await noteChannelCall(services, attempt.channel_account_id ?? builtInTarget(attempt.channel), outcome);
    return outcome;
  } catch (error) {
    // Unknown means pending: an exception is not a decline. The sync job will ask the channel.
    services.logger.warn({ attempt: attempt.id, err: error }, 'channel authorize failed without an answer; attempt stays processing');
    return { status: 'processing', reference: undefined, reason: 'channel_error' };
  }
}

export async function channelPaymentMethod(services: Services, paymentMethod: BuiltPaymentMethod): Promise<AuthorizeRequest['paymentMethod']> {
  const pm: PaymentMethodRow = paymentMethod.row;
  if (pm.type !== 'card') return { type: pm.type };
  let number: Secret<string> | undefined = paymentMethod.card;
  if (number === undefined) {
    if (pm.vault_token === null) throw new AppError('payment_method_unexpected_state', { message: 'This card has no stored number.' });
    number = await services.vault.open(services.db, { merchantId: pm.merchant_id, token: pm.vault_token });
  }
  return { type: 'card', number, expMonth: pm.card_exp_month ?? 0, expYear: pm.card_exp_year ?? 0, cvc: undefined, brand: pm.card_brand ?? 'unknown' };
}
