/**
 * Capturing an authorization, fully or partly. The attempt is first marked `capturing` under the
 * intent's version guard, so of two concurrent captures exactly one reaches the channel; the capture
 * posts the pending ledger transfer (releasing any remainder) and books the fee.
 */
import { AppError, applyMetadata, feeForRate, type MetadataPatch } from '../kernel/index.ts';
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
  intentUpdate,
  nextVersion,
  serializePaymentIntent,
} from '../payments/index.ts';
import { chargeObject, type FlowResponse } from './apply-attempt-outcome.ts';
import { unexpectedState } from './confirm-payment-intent.ts';
import { commit, mergeWriteSets, retryOnConflict, type RequestContext, type Services } from './services.ts';

export interface CaptureInput {
  readonly amountToCapture: bigint | undefined;
  readonly metadata: MetadataPatch | undefined;
}

export async function capturePaymentIntent(services: Services, ctx: RequestContext, id: string, input: CaptureInput): Promise<FlowResponse> {
  // Phase 1: reserve the capture.
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
    const channel = services.channels.get(attempt.channel);
    if (!channel) throw new AppError('operation_not_supported', { message: `Channel ${attempt.channel} is not available.` });
    if (amount < intent.amount_capturable && !channel.capabilities.partialCapture) {
      throw new AppError('operation_not_supported', { param: 'amount_to_capture', message: `${channel.displayName} does not support partial capture.` });
    }
    const now = services.now();
    const nextIntent = nextVersion(intent, { metadata: applyMetadata(intent.metadata, input.metadata) }, now);
    const nextAttempt = nextVersion(attempt, { status: 'capturing' }, now);
    await commit(
      services,
      ctx,
      {
        guards: [
          { table: 'payment_attempts', id: attempt.id, version: attempt.version },
          { table: 'payment_intents', id: intent.id, version: intent.version },
        ],
        updates: [attemptUpdate(nextAttempt), intentUpdate(nextIntent)],
      },
      { resourceId: intent.id },
    );
    return { intent: nextIntent, attempt: nextAttempt, amount, channel };
  });

  // Phase 2: the channel.
  const { channel, amount } = reserved;
  let outcome;
  try {
    outcome = await channel.capture({
      orderNo: reserved.attempt.channel_order_no,
      reference: reserved.attempt.channel_reference ?? undefined,
      amount: reserved.attempt.amount,
      currency: reserved.attempt.currency,
      amountToCapture: amount,
    });
  } catch (error) {
    services.logger.warn({ attempt: reserved.attempt.id, err: error }, 'channel capture failed without an answer');
    outcome = { status: 'processing' as const, reason: 'channel_error' };
  }

  // Phase 3: book it, or put the authorization back as it was.
  const pending = reserved.attempt.auth_transfer_id === null ? undefined : await getPendingTransfer(services.db, reserved.attempt.auth_transfer_id);
  if (!pending) throw new Error(`attempt ${reserved.attempt.id} has no pending authorization transfer`);
  let intent = reserved.intent;
  let attempt = reserved.attempt;
  return await retryOnConflict(async () => {
    const now = services.now();
    const scope = ctx.idempotency;
    if (outcome.status !== 'succeeded') {
      const nextAttempt = nextVersion(attempt, { status: 'authorized' }, now);
      const error = outcome.status === 'failed'
        ? new AppError('processing_error', { message: `The channel refused the capture: ${outcome.message}` })
        : new AppError('service_unavailable', { message: 'The channel did not confirm the capture; retry the request.' });
      const response: FlowResponse = { status: error.status, body: error.toPublic(ctx.requestId) };
      await commitOrReload(
        mergeWriteSets(
          { guards: [{ table: 'payment_attempts', id: attempt.id, version: attempt.version }], updates: [attemptUpdate(nextAttempt)] },
          scope && outcome.status === 'failed' ? { updates: [scope.complete(response)] } : {},
        ),
      );
      if (scope && outcome.status === 'failed') scope.completed = true;
      throw error;
    }
    const tenant = ctx.tenant;
    const journalId = newJournalId();
    const base = { merchantId: tenant.merchantId, livemode: tenant.livemode, sourceId: attempt.id, at: now, journalId };
    const transfers: TransferSpec[] = [{ ...base, id: newTransferId(), code: 'capture', phase: 'post', pending, amount }];
    const fee = feeForRate(amount, services.config.channelFeeBps.get(attempt.channel) ?? 0n);
    if (fee > 0n) {
      transfers.push({ ...base, id: newTransferId(), code: 'fee', phase: 'single', debit: merchantBalanceAccount(tenant, attempt.currency), credit: feeIncomeAccount(tenant.livemode, attempt.currency), amount: fee, currency: attempt.currency });
    }
    const ledger = ledgerWrites(transfers);
    const nextAttempt = nextVersion(attempt, { status: 'succeeded', amount_captured: amount }, now);
    const nextIntent = nextVersion(intent, { status: 'succeeded', amount_received: amount, amount_capturable: 0n }, now);
    const body = serializePaymentIntent(nextIntent);
    const response: FlowResponse = { status: 200, body };
    await commitOrReload({
      guards: [
        { table: 'payment_attempts', id: attempt.id, version: attempt.version },
        { table: 'payment_intents', id: intent.id, version: intent.version },
      ],
      insertsIfAbsent: ledger.insertsIfAbsent,
      inserts: [
        ...ledger.inserts,
        eventRow({ tenant, type: 'payment_intent.succeeded', object: body as { id: string }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now }),
        eventRow({ tenant, type: 'charge.captured', object: chargeObject(nextAttempt, nextIntent), requestId: ctx.requestId, idempotencyKey: scope?.key, at: now }),
      ],
      updates: [attemptUpdate(nextAttempt), intentUpdate(nextIntent), ...(scope ? [scope.complete(response)] : [])],
      balanceDeltas: ledger.balanceDeltas,
    });
    if (scope) scope.completed = true;
    services.metrics.paymentOutcome({ status: 'succeeded', method: 'card', channel: attempt.channel });
    return response;
  });

  async function commitOrReload(writeSet: Parameters<typeof commit>[2]): Promise<void> {
    try {
      await commit(services, ctx, writeSet, { resourceId: id });
    } catch (error) {
      const [freshIntent, freshAttempt] = await Promise.all([getPaymentIntent(services.db, ctx.tenant, id), getAttempt(services.db, attempt.id)]);
      if (freshIntent) intent = freshIntent;
      if (freshAttempt) attempt = freshAttempt;
      throw error;
    }
  }
}
