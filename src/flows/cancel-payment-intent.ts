/**
 * Canceling a PaymentIntent. With nothing at the channel it is a state change; with an authorization
 * the channel voids it first and the ledger voids the hold; with a payer still in a challenge the
 * channel closes the order first, and if it turns out already paid, that answer is booked instead.
 */
import { AppError } from '../kernel/index.ts';
import type { WriteSet } from '../db/index.ts';
import { eventRow } from '../events/index.ts';
import { getPendingTransfer, ledgerWrites, newJournalId, newTransferId } from '../ledger/index.ts';
import {
  attemptUpdate,
  cancelableStatuses,
  getAttempt,
  getPaymentIntent,
  intentUpdate,
  nextVersion,
  paymentGuards,
  serializePaymentIntent,
  type AttemptRow,
  type PaymentIntentRow,
} from '../payments/index.ts';
import { getPaymentMethod } from '../payment-methods/index.ts';
import { buildOutcomeApplication, type FlowResponse } from './apply-attempt-outcome.ts';
import { unexpectedState } from './confirm-payment-intent.ts';
import { commit, mergeWriteSets, retryOnConflict, systemContext, type RequestContext, type Services } from './services.ts';
import { channelForAttempt } from './channel-accounts.ts';
import { getPaymentIntentById } from '../payments/index.ts';

export type CancellationReason = 'duplicate' | 'fraudulent' | 'requested_by_customer' | 'abandoned' | 'expired' | 'automatic';

export async function cancelPaymentIntent(
  services: Services,
  ctx: RequestContext,
  id: string,
  input: { reason: CancellationReason | undefined; allowedStatuses?: readonly string[] },
): Promise<FlowResponse> {
  const allowed = input.allowedStatuses ?? cancelableStatuses;
  // Phase 1: with an attempt at the channel, mark it `canceling` so only one cancel reaches the channel.
  const reserved = await retryOnConflict(async () => {
    const intent = await getPaymentIntent(services.db, ctx.tenant, id);
    if (!intent) throw new AppError('resource_missing', { param: 'intent', message: `No such payment_intent: '${id}'` });
    if (!allowed.includes(intent.status)) throw unexpectedState(intent, 'canceled');
    const attempt = intent.latest_attempt_id === null ? undefined : await getAttempt(services.db, intent.latest_attempt_id);
    // A capture or another cancel of this attempt is at the channel now and decides its fate. Treating
    // the attempt as "nothing at the channel" canceled the intent without voiding the hold (and let a
    // racing capture then turn the canceled intent into succeeded).
    if (attempt !== undefined && (attempt.status === 'capturing' || attempt.status === 'canceling')) {
      throw unexpectedState(intent, 'canceled while a capture or cancel of it is in progress');
    }
    const atChannel = attempt !== undefined && (attempt.status === 'authorized' || attempt.status === 'requires_action' || attempt.status === 'processing');
    if (!atChannel) {
      const response = await finishCancel(services, ctx, { intent, attempt: undefined, reason: input.reason });
      return { done: response } as const;
    }
    const now = services.now();
    const nextIntent = nextVersion(intent, {}, now);
    const nextAttempt = nextVersion(attempt, { status: 'canceling' }, now);
    await commit(
      services,
      ctx,
      {
        guards: paymentGuards(attempt, intent),
        updates: [attemptUpdate(nextAttempt), intentUpdate(nextIntent)],
      },
      { resourceId: id },
    );
    return { intent: nextIntent, attempt: nextAttempt, previousStatus: attempt.status } as const;
  });
  if ('done' in reserved) return reserved.done;

  const channel = await channelForAttempt(services, reserved.attempt);
  const order = {
    orderNo: reserved.attempt.channel_order_no,
    reference: reserved.attempt.channel_reference ?? undefined,
    amount: reserved.attempt.amount,
    currency: reserved.attempt.currency,
  };
  let canceled = false;
  try {
    canceled = channel !== undefined && (await channel.cancel(order)).status === 'succeeded';
  } catch (error) {
    services.logger.warn({ attempt: reserved.attempt.id, err: error }, 'channel cancel failed without an answer');
  }
  if (canceled) return await finishCancel(services, ctx, { intent: reserved.intent, attempt: reserved.attempt, reason: input.reason });

  // The channel would not close it: find out what it knows and book that instead.
  let outcome;
  try {
    outcome = channel ? await channel.query(order) : undefined;
  } catch {
    outcome = undefined;
  }
  const restored: AttemptRow = { ...reserved.attempt, status: reserved.previousStatus };
  await retryOnConflict(async () => {
    const intent = (await getPaymentIntent(services.db, ctx.tenant, id))!;
    const attempt = (await getAttempt(services.db, restored.id))!;
    const now = services.now();
    if (outcome && outcome.status !== 'processing' && reserved.previousStatus !== 'authorized') {
      const paymentMethod = await getPaymentMethod(services.db, ctx.tenant, attempt.payment_method_id);
      const applied = buildOutcomeApplication(services, ctx, { intent, attempt: { ...attempt, status: 'processing' }, outcome, paymentMethod });
      await commit(services, ctx, { ...applied.writeSet, guards: paymentGuards(attempt, intent) }, { resourceId: id });
    } else {
      await commit(
        services,
        ctx,
        { guards: [{ table: 'payment_attempts', id: attempt.id, version: attempt.version }], updates: [attemptUpdate(nextVersion(attempt, { status: reserved.previousStatus }, now))] },
        { resourceId: id },
      );
    }
  });
  const current = (await getPaymentIntent(services.db, ctx.tenant, id))!;
  throw unexpectedState(current, 'canceled because the channel did not close the payment');
}

async function finishCancel(
  services: Services,
  ctx: RequestContext,
  input: { intent: PaymentIntentRow; attempt: AttemptRow | undefined; reason: CancellationReason | undefined },
): Promise<FlowResponse> {
  let { intent, attempt } = input;
  return await retryOnConflict(async () => {
    const now = services.now();
    const tenant = ctx.tenant;
    let ledger: WriteSet = {};
    let nextAttempt: AttemptRow | undefined;
    if (attempt) {
      if (attempt.auth_transfer_id !== null && (attempt.status === 'canceling' || attempt.status === 'authorized')) {
        const pending = await getPendingTransfer(services.db, attempt.auth_transfer_id);
        if (pending) {
          ledger = ledgerWrites([
            { id: newTransferId(), journalId: newJournalId(), code: 'authorization_release', phase: 'void', pending, merchantId: tenant.merchantId, livemode: tenant.livemode, sourceId: attempt.id, at: now },
          ]);
        }
      }
      nextAttempt = nextVersion(attempt, { status: 'canceled', next_sync_at: null }, now);
    }
    const nextIntent = nextVersion(intent, { status: 'canceled', cancellation_reason: input.reason ?? null, canceled_at: now, amount_capturable: 0n, next_action: null }, now);
    const body = serializePaymentIntent(nextIntent);
    const response: FlowResponse = { status: 200, body };
    const scope = ctx.idempotency;
    try {
      await commit(
        services,
        ctx,
        mergeWriteSets(ledger, {
          guards: [
            { table: 'payment_intents', id: intent.id, version: intent.version },
            ...(attempt ? [{ table: 'payment_attempts' as const, id: attempt.id, version: attempt.version }] : []),
          ],
          inserts: [eventRow({ tenant, type: 'payment_intent.canceled', object: body as { id: string }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now })],
          updates: [intentUpdate(nextIntent), ...(nextAttempt ? [attemptUpdate(nextAttempt)] : []), ...(scope ? [scope.complete(response)] : [])],
        }),
        { resourceId: intent.id },
      );
    } catch (error) {
      const fresh = await getPaymentIntent(services.db, tenant, intent.id);
      if (fresh) {
        if (!['requires_payment_method', 'requires_confirmation', 'requires_action', 'requires_capture', 'processing'].includes(fresh.status)) throw unexpectedState(fresh, 'canceled');
        if (fresh.latest_attempt_id !== intent.latest_attempt_id) {
          // A confirmation started a new attempt meanwhile. Unless it already failed, it is at the channel,
          // which this cancel never asked to close: canceling anyway left a payment that the channel then
          // charged on a canceled intent.
          const latest = fresh.latest_attempt_id === null ? undefined : await getAttempt(services.db, fresh.latest_attempt_id);
          if (latest !== undefined && latest.status !== 'failed' && latest.status !== 'canceled') {
            throw unexpectedState(fresh, 'canceled while it is being confirmed; retry the cancel');
          }
        }
        intent = fresh;
        if (attempt) attempt = (await getAttempt(services.db, attempt.id)) ?? attempt;
      }
      throw error;
    }
    if (scope) scope.completed = true;
    services.metrics.paymentOutcome({ status: 'canceled', method: 'card', channel: attempt?.channel ?? 'none' });
    return response;
  });
}

/**
 * An attempt left `canceling` (its process died, or the channel did not answer): ask the channel to
 * cancel again — voids and closes are idempotent per order there — and book what it says.
 */
export async function recoverStuckCancel(services: Services, attemptId: string): Promise<'canceled' | 'restored' | 'still_unknown' | 'not_applicable'> {
  const attempt = await getAttempt(services.db, attemptId);
  if (!attempt || attempt.status !== 'canceling') return 'not_applicable';
  const intent = await getPaymentIntentById(services.db, attempt.payment_intent_id);
  if (!intent) return 'not_applicable';
  const ctx = systemContext({ merchantId: attempt.merchant_id, livemode: attempt.livemode });
  const channel = await channelForAttempt(services, attempt);
  let result;
  try {
    result = channel
      ? await channel.cancel({ orderNo: attempt.channel_order_no, reference: attempt.channel_reference ?? undefined, amount: attempt.amount, currency: attempt.currency })
      : { status: 'processing' as const, reason: 'channel_unavailable' };
  } catch {
    result = { status: 'processing' as const, reason: 'channel_error' };
  }
  if (result.status === 'processing') return 'still_unknown';
  if (result.status === 'succeeded') {
    await finishCancel(services, ctx, { intent, attempt, reason: undefined });
    return 'canceled';
  }
  // The channel refused: the attempt is what it was — an authorization if a hold exists, else unknown
  // (the active query then finds out).
  await retryOnConflict(async () => {
    const fresh = await getAttempt(services.db, attemptId);
    if (!fresh || fresh.status !== 'canceling') return;
    const restored = fresh.auth_transfer_id !== null ? 'authorized' : 'processing';
    const now = services.now();
    await commit(
      services,
      ctx,
      {
        guards: [{ table: 'payment_attempts', id: fresh.id, version: fresh.version }],
        updates: [attemptUpdate(nextVersion(fresh, { status: restored, next_sync_at: restored === 'processing' ? now : null }, now))],
      },
      { resourceId: intent.id },
    );
  });
  return 'restored';
}
