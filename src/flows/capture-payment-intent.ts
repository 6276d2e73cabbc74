/**
 * Capturing an authorization, fully or partly. The attempt is first marked `capturing` with the
 * amount asked for, under the intent's version guard, so of two concurrent captures exactly one
 * reaches the channel; the channel's answer then posts the pending ledger transfer (releasing any
 * remainder) and books the fee. An attempt left `capturing` by a crash is finished by
 * `recoverStuckCapture`, which asks the channel again with the same request (captures are idempotent
 * per order at the channel).
 */
import { AppError, applyMetadata, type MetadataPatch } from '../kernel/index.ts';
import type { OperationOutcome } from '../channels/channel.ts';
import { eventRow } from '../events/index.ts';
import {
  feeIncomeAccount,
  getPendingTransfer,
  ledgerWrites,
  merchantBalanceAccount,
  newJournalId,
  newTransferId,
  type TransferSpec,
} from '../ledger/index.ts';
import {
  attemptUpdate,
  getAttempt,
  getPaymentIntent,
  getPaymentIntentById,
  intentUpdate,
  nextVersion,
  paymentGuards,
  serializePaymentIntent,
  type AttemptRow,
} from '../payments/index.ts';
import { attemptFee, chargeObject, type FlowResponse } from './apply-attempt-outcome.ts';
import { unexpectedState } from './confirm-payment-intent.ts';
import { commit, mergeWriteSets, retryOnConflict, systemContext, VersionConflict, type RequestContext, type Services } from './services.ts';
import { channelForAttempt } from './channel-accounts.ts';

export interface CaptureInput {
  readonly amountToCapture: bigint | undefined;
  readonly metadata: MetadataPatch | undefined;
}

export async function capturePaymentIntent(services: Services, ctx: RequestContext, id: string, input: CaptureInput): Promise<FlowResponse> {
  // Phase 1: reserve the capture (the amount is recorded on the attempt while it is `capturing`).
  const reserved = await retryOnConflict(async () => {
    const intent = await getPaymentIntent(services.db, ctx.tenant, id);
    if (!intent) throw new AppError('resource_missing', { param: 'intent', message: `No such payment_intent: '${id}'` });
    if (intent.status !== 'requires_capture' || intent.latest_attempt_id === null) throw unexpectedState(intent, 'captured');
    const attempt = await getAttempt(services.db, intent.latest_attempt_id);
    if (!attempt || attempt.status !== 'authorized') throw unexpectedState(intent, 'captured');
    const amount = input.amountToCapture ?? intent.amount_capturable;
    if (amount > intent.amount_capturable) {
      throw new AppError('amount_to_capture_exceeds_capturable', {
        param: 'amount_to_capture',
        message: `amount_to_capture (${amount}) must be less than or equal to amount_capturable (${intent.amount_capturable}).`,
      });
    }
    const channel = await channelForAttempt(services, attempt);
    if (!channel) throw new AppError('operation_not_supported', { message: `Channel ${attempt.channel} is not available.` });
    if (amount < intent.amount_capturable && !channel.capabilities.partialCapture) {
      throw new AppError('operation_not_supported', { param: 'amount_to_capture', message: `${channel.displayName} does not support partial capture.` });
    }
    const now = services.now();
    const nextIntent = nextVersion(intent, { metadata: applyMetadata(intent.metadata, input.metadata) }, now);
    const nextAttempt = nextVersion(attempt, { status: 'capturing', amount_captured: amount }, now);
    await commit(
      services,
      ctx,
      {
        guards: paymentGuards(attempt, intent),
        updates: [attemptUpdate(nextAttempt), intentUpdate(nextIntent)],
      },
      { resourceId: intent.id },
    );
    return nextAttempt;
  });

  // Phase 2 and 3.
  const outcome = await captureAtChannel(services, reserved);
  return await bookCapture(services, ctx, { attemptId: reserved.id, outcome });
}

async function captureAtChannel(services: Services, attempt: AttemptRow): Promise<OperationOutcome> {
  const channel = await channelForAttempt(services, attempt);
  if (!channel) return { status: 'processing', reason: 'channel_unavailable' };
  try {
    return await channel.capture({
      orderNo: attempt.channel_order_no,
      reference: attempt.channel_reference ?? undefined,
      amount: attempt.amount,
      currency: attempt.currency,
      amountToCapture: attempt.amount_captured,
    });
  } catch (error) {
    services.logger.warn({ attempt: attempt.id, err: error }, 'channel capture failed without an answer');
    return { status: 'processing', reason: 'channel_error' };
  }
}

/**
 * Phase 3: books the channel's answer about a `capturing` attempt. Success posts the hold for the
 * amount recorded in phase 1 and books the fee; a refusal puts the authorization back; no answer
 * leaves the attempt `capturing` for recovery.
 */
async function bookCapture(services: Services, ctx: RequestContext, input: { attemptId: string; outcome: OperationOutcome }): Promise<FlowResponse> {
  const { outcome } = input;
  return await retryOnConflict(async () => {
    const attempt = await getAttempt(services.db, input.attemptId);
    const intent = attempt ? await getPaymentIntentById(services.db, attempt.payment_intent_id) : undefined;
    if (!attempt || !intent) throw new Error(`capture of attempt ${input.attemptId} lost its rows`);
    // Re-checked on every try: only a capture still in flight may be booked, and only once.
    if (attempt.status !== 'capturing') throw unexpectedState(intent, 'captured (another request finished this capture)');
    const now = services.now();
    const scope = ctx.idempotency;
    const guards = paymentGuards(attempt, intent);
    if (outcome.status !== 'succeeded') {
      const error =
        outcome.status === 'failed'
          ? new AppError('processing_error', { message: `The channel refused the capture: ${outcome.message}` })
          : new AppError('service_unavailable', { message: 'The channel did not confirm the capture yet; Fenpay will find out and finish it. Retrieve the PaymentIntent later.' });
      if (outcome.status === 'failed') {
        const response: FlowResponse = { status: error.status, body: error.toPublic(ctx.requestId) };
        await commit(
          services,
          ctx,
          mergeWriteSets(
            { guards: [guards[0]], updates: [attemptUpdate(nextVersion(attempt, { status: 'authorized', amount_captured: 0n }, now))] },
            scope ? { updates: [scope.complete(response)] } : {},
          ),
          { resourceId: intent.id },
        );
        if (scope) scope.completed = true;
      }
      throw error;
    }
    const pending = attempt.auth_transfer_id === null ? undefined : await getPendingTransfer(services.db, attempt.auth_transfer_id);
    if (!pending) throw new Error(`attempt ${attempt.id} has no pending authorization transfer`);
    const tenant = { merchantId: intent.merchant_id, livemode: intent.livemode };
    const amount = attempt.amount_captured;
    const journalId = newJournalId();
    const base = { merchantId: tenant.merchantId, livemode: tenant.livemode, sourceId: attempt.id, at: now, journalId };
    const transfers: TransferSpec[] = [{ ...base, id: newTransferId(), code: 'capture', phase: 'post', pending, amount }];
    const fee = attemptFee(services, attempt, amount);
    if (fee > 0n) {
      transfers.push({ ...base, id: newTransferId(), code: 'fee', phase: 'single', debit: merchantBalanceAccount(tenant, attempt.currency), credit: feeIncomeAccount(tenant.livemode, attempt.currency), amount: fee, currency: attempt.currency });
    }
    const ledger = ledgerWrites(transfers);
    const nextAttempt = nextVersion(attempt, { status: 'succeeded' }, now);
    const nextIntent = nextVersion(intent, { status: 'succeeded', amount_received: amount, amount_capturable: 0n }, now);
    const body = serializePaymentIntent(nextIntent);
    const response: FlowResponse = { status: 200, body };
    await commit(
      services,
      ctx,
      {
        guards,
        insertsIfAbsent: ledger.insertsIfAbsent,
        inserts: [
          ...ledger.inserts,
          eventRow({ tenant, type: 'payment_intent.succeeded', object: body as { id: string }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now }),
          eventRow({ tenant, type: 'charge.captured', object: chargeObject(nextAttempt, nextIntent), requestId: ctx.requestId, idempotencyKey: scope?.key, at: now }),
        ],
        updates: [attemptUpdate(nextAttempt), intentUpdate(nextIntent), ...(scope ? [scope.complete(response)] : [])],
        balanceDeltas: ledger.balanceDeltas,
      },
      { resourceId: intent.id },
    );
    if (scope) scope.completed = true;
    services.metrics.paymentOutcome({ status: 'succeeded', method: 'card', channel: attempt.channel });
    return response;
  });
}

/**
 * An attempt left `capturing` (its process died, or the channel did not answer): ask the channel again
 * with the same capture, which it treats idempotently, and book what it says.
 */
export async function recoverStuckCapture(services: Services, attemptId: string): Promise<'booked' | 'reverted' | 'still_unknown' | 'not_applicable'> {
  const attempt = await getAttempt(services.db, attemptId);
  if (!attempt || attempt.status !== 'capturing') return 'not_applicable';
  const outcome = await captureAtChannel(services, attempt);
  const ctx = systemContext({ merchantId: attempt.merchant_id, livemode: attempt.livemode });
  try {
    await bookCapture(services, ctx, { attemptId, outcome });
    return 'booked';
  } catch (error) {
    if (error instanceof VersionConflict) throw error;
    if (error instanceof AppError) return outcome.status === 'failed' ? 'reverted' : outcome.status === 'processing' ? 'still_unknown' : 'not_applicable';
    throw error;
  }
}
