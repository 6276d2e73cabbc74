/**
 * Refunding a captured payment, fully, partly, or several times — never beyond what was captured.
 * Phase 1 reserves the amount on the attempt and the intent (version-guarded, so two concurrent
 * refunds cannot both pass) and holds it in the ledger as a pending debit of the merchant balance
 * (so the balance cannot be spent twice). The channel refunds; phase 3 posts or voids the hold.
 */
import { AppError, newId, type MetadataPatch, applyMetadata } from '../kernel/index.ts';
import { eventRow } from '../events/index.ts';
import {
  channelClearingAccount,
  getPendingTransfer,
  ledgerWrites,
  merchantBalanceAccount,
  newJournalId,
  newTransferId,
  type PendingTransfer,
} from '../ledger/index.ts';
import {
  attemptUpdate,
  getAttempt,
  getPaymentIntent,
  intentUpdate,
  nextVersion,
  paymentGuards,
  serializeRefund,
  type RefundRow,
} from '../payments/index.ts';
import { chargeObject, type FlowResponse } from './apply-attempt-outcome.ts';
import { findOpenPendingTransfer } from '../ledger/index.ts';
import { commit, mergeWriteSets, retryOnConflict, systemContext, type RequestContext, type Services } from './services.ts';
import { channelForAttempt } from './channel-accounts.ts';
import type { OperationOutcome } from '../channels/channel.ts';

export interface CreateRefundInput {
  readonly paymentIntentId: string | undefined;
  readonly chargeId: string | undefined;
  readonly amount: bigint | undefined;
  readonly reason: 'duplicate' | 'fraudulent' | 'requested_by_customer' | undefined;
  readonly metadata: MetadataPatch | undefined;
  /**
   * Internal: refund this attempt, a late success on an intent that another attempt already paid (or
   * that was closed). The intent's own amounts are not touched: that money was never its payment.
   */
  readonly lateAttemptId?: string | undefined;
}

export async function createRefund(services: Services, ctx: RequestContext, input: CreateRefundInput): Promise<FlowResponse> {
  const tenant = ctx.tenant;
  // Phase 1: reserve.
  const reserved = await retryOnConflict(async () => {
    let intentId = input.paymentIntentId;
    if (intentId === undefined && input.chargeId !== undefined) {
      const byCharge = await getAttempt(services.db, input.chargeId);
      if (!byCharge || byCharge.merchant_id !== tenant.merchantId || byCharge.livemode !== tenant.livemode) {
        throw new AppError('resource_missing', { param: 'charge', message: `No such charge: '${input.chargeId}'` });
      }
      intentId = byCharge.payment_intent_id;
    }
    if (intentId === undefined) throw new AppError('parameter_missing', { param: 'payment_intent', message: 'Missing required param: payment_intent (or charge).' });
    const intent = await getPaymentIntent(services.db, tenant, intentId);
    if (!intent) throw new AppError('resource_missing', { param: input.paymentIntentId ? 'payment_intent' : 'charge', message: `No such payment_intent: '${intentId}'` });
    const late = input.lateAttemptId !== undefined;
    if (!late && (intent.status !== 'succeeded' || intent.latest_attempt_id === null)) {
      throw new AppError('refund_requires_succeeded_payment', { param: 'payment_intent', message: `This PaymentIntent's status is ${intent.status}; only a succeeded payment can be refunded.` });
    }
    const attempt = await getAttempt(services.db, input.lateAttemptId ?? intent.latest_attempt_id!);
    if (!attempt || attempt.status !== 'succeeded' || attempt.payment_intent_id !== intent.id) throw new AppError('refund_requires_succeeded_payment', { param: 'payment_intent' });
    if (late && attempt.id === intent.latest_attempt_id && intent.status === 'succeeded') throw new AppError('refund_requires_succeeded_payment', { message: 'This attempt is the payment itself, not a late duplicate.' });
    if (input.chargeId !== undefined && input.chargeId !== attempt.id) throw new AppError('resource_missing', { param: 'charge', message: `No such charge: '${input.chargeId}'` });
    const remaining = attempt.amount_captured - attempt.amount_refunded;
    if (remaining <= 0n) throw new AppError('charge_already_refunded', { message: `Charge ${attempt.id} has already been refunded.` });
    const amount = input.amount ?? remaining;
    if (amount > remaining) {
      throw new AppError('refund_exceeds_captured_amount', {
        param: 'amount',
        message: `Refund amount (${amount}) is greater than the unrefunded amount on charge ${attempt.id} (${remaining}).`,
      });
    }
    const channel = await channelForAttempt(services, attempt);
    if (!channel || !channel.capabilities.refund) throw new AppError('operation_not_supported', { message: `Channel ${attempt.channel} cannot refund.` });
    if (amount < attempt.amount_captured && !channel.capabilities.partialRefund) throw new AppError('operation_not_supported', { param: 'amount', message: `${channel.displayName} does not support partial refunds.` });

    const now = services.now();
    const refundId = newId('refund');
    const journalId = newJournalId();
    const holdId = newTransferId();
    const ledger = ledgerWrites([
      {
        id: holdId, journalId, code: 'refund', phase: 'pending',
        debit: merchantBalanceAccount(tenant, attempt.currency), credit: channelClearingAccount(attempt.channel, tenant.livemode, attempt.currency),
        amount, currency: attempt.currency, merchantId: tenant.merchantId, livemode: tenant.livemode, sourceId: refundId, at: now,
      },
    ]);
    const refund: RefundRow = {
      id: refundId,
      merchant_id: tenant.merchantId,
      livemode: tenant.livemode,
      payment_intent_id: intent.id,
      attempt_id: attempt.id,
      amount,
      currency: attempt.currency,
      status: 'pending',
      reason: input.reason ?? null,
      failure_reason: null,
      metadata: applyMetadata({}, input.metadata),
      journal_id: journalId,
      version: 1,
      created_at: now,
    };
    const nextAttempt = nextVersion(attempt, { amount_refunded: attempt.amount_refunded + amount }, now);
    const nextIntent = late ? intent : nextVersion(intent, { amount_refunded: intent.amount_refunded + amount }, now);
    try {
      await commit(
      services,
      ctx,
      {
        guards: paymentGuards(attempt, intent),
        insertsIfAbsent: ledger.insertsIfAbsent,
        inserts: [
          { table: 'refunds', row: { ...refund } },
          ...ledger.inserts,
          eventRow({ tenant, type: 'refund.created', object: serializeRefund(refund) as { id: string }, requestId: ctx.requestId, idempotencyKey: ctx.idempotency?.key, at: now }),
        ],
        updates: [attemptUpdate(nextAttempt), ...(late ? [] : [intentUpdate(nextIntent)])],
        balanceDeltas: ledger.balanceDeltas,
      },
      { resourceId: refundId },
      );
    } catch (error) {
      if (error instanceof AppError && error.code === 'balance_insufficient') {
        // Refunds are funded from the merchant's available balance, which never goes negative in Fenpay.
        throw new AppError('balance_insufficient', {
          param: 'amount',
          message: `Your available ${attempt.currency.toUpperCase()} balance is too low to fund a refund of ${amount} (in minor units); refunds are paid from the available balance, which already excludes the processing fee.`,
        });
      }
      throw error;
    }
    return { refund, attempt: nextAttempt, channel, holdId };
  });

  // Phase 2: the channel.
  const { channel, attempt } = reserved;
  let outcome;
  try {
    outcome = await channel.refund({
      orderNo: attempt.channel_order_no,
      reference: attempt.channel_reference ?? undefined,
      amount: attempt.amount,
      currency: attempt.currency,
      refundNo: reserved.refund.id.slice(3),
      refundAmount: reserved.refund.amount,
      requestedAt: reserved.refund.created_at,
    });
  } catch (error) {
    services.logger.warn({ refund: reserved.refund.id, err: error }, 'channel refund failed without an answer; refund stays pending');
    outcome = { status: 'processing' as const, reason: 'channel_error' };
  }

  // Phase 3: post or void the hold.
  const hold = await getPendingTransfer(services.db, reserved.holdId);
  if (!hold) throw new Error(`refund ${reserved.refund.id} lost its ledger hold`);
  return await settleRefund(services, ctx, { refund: reserved.refund, hold, outcome });
}

export async function settleRefund(
  services: Services,
  ctx: RequestContext,
  input: { refund: RefundRow; hold: PendingTransfer; outcome: { status: 'succeeded' | 'processing' | 'failed'; message?: string } },
): Promise<FlowResponse> {
  const tenant = ctx.tenant;
  const { hold, outcome } = input;
  const scope = ctx.idempotency;
  if (outcome.status === 'processing') {
    const body = serializeRefund(input.refund);
    return { status: 200, body };
  }
  let first = true;
  return await retryOnConflict(async () => {
    // A retry after a conflict re-reads: a notification or the sweeper may have settled it meanwhile.
    const refund = first ? input.refund : ((await services.db.selectFrom('refunds').selectAll().where('id', '=', input.refund.id).executeTakeFirst()) ?? input.refund);
    first = false;
    if (refund.status !== 'pending') return { status: 200, body: serializeRefund(refund) };
    const now = services.now();
    const base = { merchantId: tenant.merchantId, livemode: tenant.livemode, sourceId: refund.id, at: now, journalId: refund.journal_id ?? newJournalId() };
    if (outcome.status === 'succeeded') {
      const ledger = ledgerWrites([{ ...base, id: newTransferId(), code: 'refund', phase: 'post', pending: hold, amount: hold.amount }]);
      const next: RefundRow = { ...refund, status: 'succeeded', version: refund.version + 1 };
      const body = serializeRefund(next);
      const attempt = (await getAttempt(services.db, refund.attempt_id))!;
      const intent = (await getPaymentIntent(services.db, tenant, refund.payment_intent_id))!;
      await commit(
        services,
        ctx,
        mergeWriteSets(ledger, {
          guards: [{ table: 'refunds', id: refund.id, version: refund.version }],
          inserts: [
            eventRow({ tenant, type: 'refund.updated', object: body as { id: string }, previousAttributes: { status: refund.status }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now }),
            eventRow({ tenant, type: 'charge.refunded', object: chargeObject(attempt, intent), requestId: ctx.requestId, idempotencyKey: scope?.key, at: now }),
          ],
          updates: [{ table: 'refunds', key: { id: refund.id }, set: { status: next.status, version: next.version } }, ...(scope ? [scope.complete({ status: 200, body })] : [])],
        }),
        { resourceId: refund.id },
      );
      if (scope) scope.completed = true;
      return { status: 200, body };
    }
    // Failed at the channel: release the hold and the reservation on attempt and intent.
    const attempt = (await getAttempt(services.db, refund.attempt_id))!;
    const intent = (await getPaymentIntent(services.db, tenant, refund.payment_intent_id))!;
    const ledger = ledgerWrites([{ ...base, id: newTransferId(), code: 'refund_release', phase: 'void', pending: hold }]);
    const next: RefundRow = { ...refund, status: 'failed', failure_reason: 'unknown', version: refund.version + 1 };
    const body = serializeRefund(next);
    await commit(
      services,
      ctx,
      mergeWriteSets(ledger, {
        guards: [
          { table: 'refunds', id: refund.id, version: refund.version },
          { table: 'payment_attempts', id: attempt.id, version: attempt.version },
          { table: 'payment_intents', id: intent.id, version: intent.version },
        ],
        inserts: [eventRow({ tenant, type: 'refund.failed', object: body as { id: string }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now })],
        updates: [
          { table: 'refunds', key: { id: refund.id }, set: { status: next.status, version: next.version, failure_reason: next.failure_reason } },
          attemptUpdate(nextVersion(attempt, { amount_refunded: attempt.amount_refunded - refund.amount }, now)),
          // A late duplicate's refund never counted on the intent (see lateAttemptId).
          ...(attempt.failure_message === 'late_success_requires_review' ? [] : [intentUpdate(nextVersion(intent, { amount_refunded: intent.amount_refunded - refund.amount }, now))]),
          ...(scope ? [scope.complete({ status: 200, body })] : []),
        ],
      }),
      { resourceId: refund.id },
    );
    if (scope) scope.completed = true;
    return { status: 200, body };
  });
}

/**
 * A refund still `pending` (the channel did not answer, the process died before booking it, or the
 * channel settles refunds asynchronously): ask the channel about it when it can be asked, otherwise —
 * or when it does not know it — send the same refund again (channels treat a repeated refund number as
 * the same refund), and book the answer. Its hold stays on the merchant balance until then.
 */
export async function recoverPendingRefund(services: Services, refundId: string): Promise<'settled' | 'still_unknown' | 'not_applicable'> {
  const refund = await services.db.selectFrom('refunds').selectAll().where('id', '=', refundId).executeTakeFirst();
  if (!refund || refund.status !== 'pending') return 'not_applicable';
  const attempt = await getAttempt(services.db, refund.attempt_id);
  if (!attempt) return 'not_applicable';
  const channel = await channelForAttempt(services, attempt);
  if (!channel) return 'still_unknown';
  const request = { orderNo: attempt.channel_order_no, reference: attempt.channel_reference ?? undefined, amount: attempt.amount, currency: attempt.currency, refundNo: refund.id.slice(3), refundAmount: refund.amount, requestedAt: refund.created_at };
  let outcome: OperationOutcome;
  try {
    outcome = channel.queryRefund ? await channel.queryRefund(request) : { status: 'processing', reason: 'no refund query' };
    if (outcome.status === 'processing') outcome = await channel.refund(request);
  } catch {
    outcome = { status: 'processing', reason: 'channel_error' };
  }
  return await applyRefundOutcome(services, refundId, outcome);
}

/** Books what the channel says about a pending refund (an answer to a query, or a notification). Idempotent. */
export async function applyRefundOutcome(services: Services, refundId: string, outcome: OperationOutcome): Promise<'settled' | 'still_unknown' | 'not_applicable'> {
  const refund = await services.db.selectFrom('refunds').selectAll().where('id', '=', refundId).executeTakeFirst();
  if (!refund || refund.status !== 'pending') return 'not_applicable';
  const hold = await findOpenPendingTransfer(services.db, { sourceId: refund.id, code: 'refund' });
  if (!hold) return 'not_applicable';
  if (outcome.status === 'processing') return 'still_unknown';
  const settled = outcome.status === 'succeeded' ? { status: 'succeeded' as const } : { status: 'failed' as const, message: outcome.message };
  await settleRefund(services, systemContext({ merchantId: refund.merchant_id, livemode: refund.livemode }), { refund, hold, outcome: settled });
  return 'settled';
}

/**
 * A payment that succeeded at a channel after its intent was closed or paid by another attempt (an
 * unknown outcome that turned out to be a success): the money is real and booked, and it goes back to
 * the payer at once, recorded as a refund with reason `duplicate`. Found by the sweeper.
 */
export async function refundLateSuccess(services: Services, attemptId: string): Promise<'refunded' | 'not_applicable'> {
  const attempt = await getAttempt(services.db, attemptId);
  if (!attempt || attempt.status !== 'succeeded' || attempt.failure_message !== 'late_success_requires_review' || attempt.amount_refunded >= attempt.amount_captured) return 'not_applicable';
  const ctx = systemContext({ merchantId: attempt.merchant_id, livemode: attempt.livemode });
  services.logger.warn({ attempt: attempt.id, intent: attempt.payment_intent_id }, 'refunding a late duplicate success');
  await createRefund(services, ctx, {
    paymentIntentId: attempt.payment_intent_id,
    chargeId: undefined,
    amount: attempt.amount_captured - attempt.amount_refunded,
    reason: 'duplicate',
    metadata: { fenpay_auto_refund: 'late_duplicate_success' },
    lateAttemptId: attempt.id,
  });
  return 'refunded';
}
