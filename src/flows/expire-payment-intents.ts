/**
 * Expiry. Unpaid intents past `expires_at` are canceled — after asking the channel what it knows and
 * closing the order there; authorizations not captured by `capture_before` are voided and canceled.
 * Unknown outcomes are never guessed: an attempt the channel cannot close stays as it is.
 */
import { AppError } from '../kernel/index.ts';
import { authorizationsDueForExpiry, getAttempt, intentsDueForExpiry } from '../payments/index.ts';
import { cancelPaymentIntent } from './cancel-payment-intent.ts';
import { systemContext, type Services } from './services.ts';
import { syncAttempt } from './sync-attempt.ts';

export interface ExpiryReport {
  readonly canceled: number;
  readonly skipped: number;
}

export async function expirePaymentIntents(services: Services, options: { limit: number }): Promise<ExpiryReport> {
  const now = services.now();
  let canceled = 0;
  let skipped = 0;
  for (const intent of await intentsDueForExpiry(services.db, { now, limit: options.limit })) {
    const tenant = { merchantId: intent.merchant_id, livemode: intent.livemode };
    if (intent.latest_attempt_id !== null) {
      const attempt = await getAttempt(services.db, intent.latest_attempt_id);
      if (attempt && (attempt.status === 'processing' || attempt.status === 'requires_action')) {
        // Ask first: the payer may have paid a moment ago.
        if ((await syncAttempt(services, attempt.id)) === 'final') {
          skipped += 1;
          continue;
        }
      }
    }
    try {
      await cancelPaymentIntent(services, systemContext(tenant), intent.id, {
        reason: 'expired' as const,
        allowedStatuses: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
      });
      canceled += 1;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      skipped += 1;
    }
  }
  return { canceled, skipped };
}

export async function expireAuthorizations(services: Services, options: { limit: number }): Promise<ExpiryReport> {
  const now = services.now();
  let canceled = 0;
  let skipped = 0;
  for (const intent of await authorizationsDueForExpiry(services.db, { now, limit: options.limit })) {
    try {
      await cancelPaymentIntent(services, systemContext({ merchantId: intent.merchant_id, livemode: intent.livemode }), intent.id, {
        reason: 'automatic',
        allowedStatuses: ['requires_capture'],
      });
      canceled += 1;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      skipped += 1;
    }
  }
  return { canceled, skipped };
}
