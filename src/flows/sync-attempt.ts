/**
 * Active query of an attempt whose outcome is unknown (processing, or a payer in a challenge):
 * ask the channel and book the answer. Idempotent: an attempt that is already final is left alone.
 */
import { getAttempt, getPaymentIntentById } from '../payments/index.ts';
import { getPaymentMethod } from '../payment-methods/index.ts';
import type { ChannelOutcome } from '../channels/channel.ts';
import { buildOutcomeApplication } from './apply-attempt-outcome.ts';
import { commit, retryOnConflict, systemContext, type Services } from './services.ts';
import { channelForAttempt } from './channel-accounts.ts';
import { builtInTarget, noteChannelCall } from './channel-health.ts';

export type SyncResult = 'final' | 'still_unknown' | 'not_applicable';

export async function syncAttempt(services: Services, attemptId: string): Promise<SyncResult> {
  const first = await getAttempt(services.db, attemptId);
  if (!first || (first.status !== 'processing' && first.status !== 'requires_action')) return 'not_applicable';
  const channel = await channelForAttempt(services, first);
  let outcome: ChannelOutcome;
  try {
    outcome = channel
      ? await channel.query({ orderNo: first.channel_order_no, reference: first.channel_reference ?? undefined, amount: first.amount, currency: first.currency })
      : { status: 'processing', reference: undefined, reason: 'channel_unavailable' };
  } catch (error) {
    services.logger.warn({ attempt: attemptId, err: error }, 'channel query failed; trying again later');
    outcome = { status: 'processing', reference: undefined, reason: 'query_error' };
  }
  if (channel) await noteChannelCall(services, first.channel_account_id ?? builtInTarget(first.channel), outcome);
  return await applyChannelOutcome(services, attemptId, outcome);
}

/**
 * Books what the channel says about an attempt whose outcome was not final (the answer to a query, or
 * a verified notification). Idempotent: a final attempt is left alone, so a duplicate or late
 * notification changes nothing.
 */
export async function applyChannelOutcome(services: Services, attemptId: string, outcome: ChannelOutcome): Promise<SyncResult> {
  return await retryOnConflict(async () => {
    const attempt = await getAttempt(services.db, attemptId);
    if (!attempt) return 'not_applicable';
    // A verified success for an attempt we had closed or seen fail is still money that moved: it is
    // booked (as a late success, refunded by the sweeper), never dropped. Anything else about a final
    // attempt changes nothing.
    const lateSuccess = (attempt.status === 'failed' || attempt.status === 'canceled') && outcome.status === 'succeeded';
    if (attempt.status !== 'processing' && attempt.status !== 'requires_action' && !lateSuccess) return 'not_applicable';
    const intent = await getPaymentIntentById(services.db, attempt.payment_intent_id);
    if (!intent) return 'not_applicable';
    const tenant = { merchantId: intent.merchant_id, livemode: intent.livemode };
    const paymentMethod = await getPaymentMethod(services.db, tenant, attempt.payment_method_id);
    const applied = buildOutcomeApplication(services, systemContext(tenant), { intent, attempt, outcome, paymentMethod });
    await commit(services, systemContext(tenant), applied.writeSet, { resourceId: intent.id });
    if (applied.syncAt) services.scheduleSync(attempt.id, applied.syncAt);
    return outcome.status === 'processing' || outcome.status === 'requires_action' ? 'still_unknown' : 'final';
  });
}
