/**
 * Turns a channel's answer about an attempt into the writes that record it: attempt and intent
 * state, ledger transfers, events. Used by confirmation, by the active-query job and by channel
 * callbacks, so every path books an outcome the same way. Pure: it returns a WriteSet.
 */
import { AppError, assertNever, feeForRate, type Tenant } from '../kernel/index.ts';
import type { ChannelOutcome, ChannelFailure, NextAction } from '../channels/channel.ts';
import type { WriteSet } from '../db/index.ts';
import { eventRow, type EventType } from '../events/index.ts';
import {
  channelClearingAccount,
  feeIncomeAccount,
  ledgerWrites,
  merchantBalanceAccount,
  newJournalId,
  newTransferId,
  type TransferSpec,
} from '../ledger/index.ts';
import {
  attemptUpdate,
  intentUpdate,
  nextSyncDelaySeconds,
  nextVersion,
  serializePaymentIntent,
  type AttemptRow,
  type PaymentIntentRow,
} from '../payments/index.ts';
import type { PaymentMethodRow } from '../payment-methods/index.ts';
import { serializePaymentMethod } from '../payment-methods/index.ts';
import type { RequestContext, Services } from './services.ts';

export interface FlowResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface OutcomeApplication {
  readonly writeSet: WriteSet;
  readonly intent: PaymentIntentRow;
  readonly attempt: AttemptRow;
  readonly response: FlowResponse;
  /** When set, the attempt is still unknown and should be queried then. */
  readonly syncAt: Date | undefined;
}

export function buildOutcomeApplication(
  services: Services,
  ctx: RequestContext,
  input: { intent: PaymentIntentRow; attempt: AttemptRow; outcome: ChannelOutcome; paymentMethod: PaymentMethodRow | undefined },
): OutcomeApplication {
  const { intent, attempt } = input;
  const now = services.now();
  const tenant: Tenant = { merchantId: intent.merchant_id, livemode: intent.livemode };
  let outcome = input.outcome;

  // Integrity: a final answer must echo the amount and currency we asked for. A mismatch is an
  // alert and stays unknown, never a success.
  if ((outcome.status === 'succeeded' || outcome.status === 'requires_capture') && (outcome.amount !== attempt.amount || outcome.currency !== attempt.currency)) {
    services.metrics.integrityMismatch(attempt.channel);
    services.logger.error({ attempt: attempt.id, channel: attempt.channel }, 'channel answer does not match the attempt amount or currency');
    outcome = { status: 'processing', reference: outcome.reference, reason: 'integrity_mismatch' };
  }

  const events: EventType[] = [];
  const transfers: TransferSpec[] = [];
  let nextAttempt: AttemptRow;
  let nextIntent: PaymentIntentRow;
  let syncAt: Date | undefined;
  let failure: ChannelFailure | undefined;
  const lateOnClosedIntent = intent.status === 'canceled' || intent.latest_attempt_id !== attempt.id;
  const clearing = channelClearingAccount(attempt.channel, tenant.livemode, attempt.currency);
  const balance = merchantBalanceAccount(tenant, attempt.currency);
  const base = { merchantId: tenant.merchantId, livemode: tenant.livemode, sourceId: attempt.id, at: now };

  switch (outcome.status) {
    case 'succeeded': {
      const journalId = newJournalId();
      transfers.push({ ...base, id: newTransferId(), journalId, code: 'charge', phase: 'single', debit: clearing, credit: balance, amount: attempt.amount, currency: attempt.currency });
      const fee = attemptFee(services, attempt, attempt.amount);
      if (fee > 0n) transfers.push({ ...base, id: newTransferId(), journalId, code: 'fee', phase: 'single', debit: balance, credit: feeIncomeAccount(tenant.livemode, attempt.currency), amount: fee, currency: attempt.currency });
      nextAttempt = nextVersion(attempt, { status: 'succeeded', channel_reference: outcome.reference, amount_captured: attempt.amount, next_sync_at: null }, now);
      if (lateOnClosedIntent) {
        // Money arrived for an intent that was closed meanwhile: book it (it is real) and flag it for
        // review, never drop it. Automatic refund of late successes belongs to the channels issue.
        services.logger.error({ attempt: attempt.id, intent: intent.id }, 'late success on a closed payment intent: booked and flagged for review');
        nextAttempt = { ...nextAttempt, failure_message: 'late_success_requires_review' };
        nextIntent = intent;
      } else {
        nextIntent = nextVersion(intent, { status: 'succeeded', amount_received: attempt.amount, amount_capturable: 0n, next_action: null, last_payment_error: null }, now);
        events.push('payment_intent.succeeded', 'charge.succeeded');
      }
      break;
    }
    case 'requires_capture': {
      const authId = newTransferId();
      transfers.push({ ...base, id: authId, journalId: newJournalId(), code: 'authorization', phase: 'pending', debit: clearing, credit: balance, amount: attempt.amount, currency: attempt.currency });
      nextAttempt = nextVersion(attempt, { status: 'authorized', channel_reference: outcome.reference, auth_transfer_id: authId, next_sync_at: null }, now);
      if (lateOnClosedIntent) {
        services.logger.error({ attempt: attempt.id, intent: intent.id }, 'late authorization on a closed payment intent: held and flagged for review');
        nextAttempt = { ...nextAttempt, failure_message: 'late_success_requires_review' };
        nextIntent = intent;
      } else {
        const captureBefore = new Date(now.getTime() + services.config.authorizationExpirySeconds * 1000);
        nextIntent = nextVersion(intent, { status: 'requires_capture', amount_capturable: attempt.amount, capture_before: captureBefore, next_action: null, last_payment_error: null }, now);
        events.push('payment_intent.amount_capturable_updated');
      }
      break;
    }
    case 'requires_action': {
      const delay = nextSyncDelaySeconds(Math.max(attempt.sync_count, 4));
      syncAt = delay === undefined ? undefined : new Date(now.getTime() + delay * 1000);
      nextAttempt = nextVersion(attempt, { status: 'requires_action', channel_reference: outcome.reference, next_sync_at: syncAt ?? null }, now);
      // A payer already asked to act keeps the action first shown (the QR on screen); a query that
      // re-describes it (Alipay can only offer a fresh page URL) must not swap it.
      const keep = attempt.status === 'requires_action' && intent.status === 'requires_action' && intent.next_action !== null;
      const nextAction = keep ? intent.next_action : nextActionBody(outcome.action, { channel: attempt.channel, attemptId: attempt.id, returnUrl: intent.return_url, publicUrl: services.config.publicUrl });
      nextIntent = lateOnClosedIntent || keep ? intent : nextVersion(intent, { status: 'requires_action', next_action: nextAction }, now);
      if (!lateOnClosedIntent && intent.status !== 'requires_action') events.push('payment_intent.requires_action');
      break;
    }
    case 'processing': {
      const delay = nextSyncDelaySeconds(attempt.sync_count);
      syncAt = delay === undefined ? undefined : new Date(now.getTime() + delay * 1000);
      if (syncAt === undefined) services.logger.error({ attempt: attempt.id }, 'attempt still unknown after the query window: needs an operator');
      nextAttempt = nextVersion(attempt, { status: 'processing', channel_reference: outcome.reference ?? attempt.channel_reference, sync_count: attempt.sync_count + 1, next_sync_at: syncAt ?? null, failure_message: outcome.reason === 'integrity_mismatch' ? 'integrity_mismatch' : attempt.failure_message }, now);
      const wasProcessingAlready = attempt.sync_count > 0;
      nextIntent = lateOnClosedIntent ? intent : nextVersion(intent, { status: 'processing', next_action: null }, now);
      if (!lateOnClosedIntent && !wasProcessingAlready) events.push('payment_intent.processing');
      break;
    }
    case 'failed':
    case 'canceled': {
      failure = outcome.status === 'failed' ? outcome.failure : { code: 'processing_error', declineCode: undefined, message: 'The payment was closed by the channel.' };
      nextAttempt = nextVersion(attempt, { status: outcome.status, channel_reference: outcome.reference ?? attempt.channel_reference, failure_code: failure.code, decline_code: failure.declineCode ?? null, failure_message: failure.message, next_sync_at: null }, now);
      if (lateOnClosedIntent) nextIntent = intent;
      else {
        const lastError: Record<string, unknown> = {
          type: 'card_error',
          code: failure.code,
          message: failure.message,
          charge: attempt.id,
          payment_method: input.paymentMethod ? serializePaymentMethod(input.paymentMethod) : null,
        };
        if (failure.declineCode !== undefined) lastError.decline_code = failure.declineCode;
        nextIntent = nextVersion(intent, { status: 'requires_payment_method', payment_method_id: null, next_action: null, last_payment_error: lastError }, now);
        events.push('payment_intent.payment_failed');
      }
      break;
    }
    default:
      assertNever(outcome);
  }

  const body = serializePaymentIntent(nextIntent);
  const ledger = ledgerWrites(transfers);
  const guards = [
    { table: 'payment_attempts' as const, id: attempt.id, version: attempt.version },
    ...(nextIntent === intent ? [] : [{ table: 'payment_intents' as const, id: intent.id, version: intent.version }]),
  ];
  const writeSet: WriteSet = {
    guards,
    insertsIfAbsent: ledger.insertsIfAbsent,
    inserts: [
      ...ledger.inserts,
      ...events.map((type) => eventRow({ tenant, type, object: type.startsWith('charge.') ? chargeObject(nextAttempt, nextIntent) : (body as { id: string }), requestId: ctx.requestId, idempotencyKey: ctx.idempotency?.key, at: now })),
    ],
    updates: [attemptUpdate(nextAttempt, attempt), ...(nextIntent === intent ? [] : [intentUpdate(nextIntent, intent)])],
    balanceDeltas: ledger.balanceDeltas,
  };

  services.metrics.paymentOutcome({ status: nextAttempt.status, method: 'card', channel: attempt.channel });
  const response: FlowResponse = failure
    ? { status: 402, body: new AppError(failure.code, { message: failure.message, ...(failure.declineCode ? { declineCode: failure.declineCode } : {}), extra: { charge: attempt.id, payment_intent: body, payment_method: input.paymentMethod ? serializePaymentMethod(input.paymentMethod) : null } }).toPublic(ctx.requestId) }
    : { status: 200, body };
  return { writeSet, intent: nextIntent, attempt: nextAttempt, response, syncAt };
}

/** A Stripe-shaped charge object for charge.* events: the attempt seen as a charge. */
/**
 * The channel's fee for capturing `amount` of this attempt: the rate its routing decision recorded (the
 * channel account's percentage plus fixed fee), else the channel's configured default.
 */
export function attemptFee(services: Services, attempt: AttemptRow, amount: bigint): bigint {
  if (attempt.fee_bps !== null) return feeForRate(amount, BigInt(attempt.fee_bps)) + (attempt.fee_fixed ?? 0n);
  return feeForRate(amount, services.config.channelFeeBps.get(attempt.channel) ?? 0n);
}

export function chargeObject(attempt: AttemptRow, intent: PaymentIntentRow): { id: string } & Record<string, unknown> {
  return {
    id: attempt.id,
    object: 'charge',
    amount: Number(attempt.amount),
    amount_captured: Number(attempt.amount_captured),
    amount_refunded: Number(attempt.amount_refunded),
    captured: attempt.amount_captured > 0n,
    created: Math.floor(attempt.created_at.getTime() / 1000),
    currency: attempt.currency,
    customer: intent.customer_id,
    livemode: attempt.livemode,
    metadata: intent.metadata,
    paid: attempt.status === 'succeeded' || attempt.status === 'authorized',
    payment_intent: intent.id,
    payment_method: attempt.payment_method_id,
    refunded: attempt.amount_refunded > 0n && attempt.amount_refunded === attempt.amount_captured,
    status: attempt.status === 'failed' ? 'failed' : attempt.status === 'processing' ? 'pending' : 'succeeded',
    failure_code: attempt.failure_code,
    failure_message: attempt.failure_message,
    // Fenpay: which channel (and the merchant's account at it) served this charge, and why.
    fenpay_channel: attempt.channel,
    fenpay_channel_account: attempt.channel_account_id,
    fenpay_routing: attempt.routing,
  };
}

/**
 * Stripe's `next_action` for what the channel asks the payer to do: Stripe's own shapes where Stripe
 * has one (`alipay_handle_redirect`, `wechat_pay_display_qr_code`, `redirect_to_url`), Fenpay
 * extensions prefixed `fenpay_` otherwise. A browser form (UnionPay) becomes a redirect to a Fenpay
 * page that posts it, so a merchant handles it like any redirect.
 */
function nextActionBody(action: NextAction, at: { channel: string; attemptId: string; returnUrl: string | null; publicUrl: string }): Record<string, unknown> {
  switch (action.type) {
    case 'redirect_to_url':
      if (at.channel === 'alipay') {
        return { type: 'alipay_handle_redirect', alipay_handle_redirect: { native_data: null, native_url: null, return_url: at.returnUrl, url: action.url } };
      }
      return { type: 'redirect_to_url', redirect_to_url: { url: action.url, return_url: at.returnUrl } };
    case 'display_qr_code':
      if (at.channel === 'wechat_pay') {
        return {
          type: 'wechat_pay_display_qr_code',
          wechat_pay_display_qr_code: { data: action.data, hosted_instructions_url: null, image_data_url: action.imageUrl ?? null, image_url_png: null, image_url_svg: null },
        };
      }
      return { type: 'display_qr_code', display_qr_code: { data: action.data, image_url_png: action.imageUrl ?? null } };
    case 'sdk_params':
      return { type: 'fenpay_sdk_params', fenpay_sdk_params: action.params };
    case 'post_form':
      return {
        type: 'redirect_to_url',
        redirect_to_url: { url: `${at.publicUrl}/pay/forward/${at.attemptId}`, return_url: at.returnUrl },
        fenpay_post_form: { url: action.url, fields: action.fields },
      };
  }
}
