/**
 * Stripe's webhook signature: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
 * `"<t>.<raw body>"`, keyed by the whole `whsec_…` string — what `stripe.webhooks.constructEvent`
 * verifies. During a secret rotation every live secret signs, one `v1=` each, as Stripe does.
 */
import { createHmac } from 'node:crypto';
import { randomToken } from '../kernel/index.ts';

export function signatureHeader(payload: string, secrets: readonly string[], timestampSeconds: number): string {
  const signed = `${timestampSeconds}.${payload}`;
  return [`t=${timestampSeconds}`, ...secrets.map((secret) => `v1=${createHmac('sha256', secret).update(signed, 'utf8').digest('hex')}`)].join(',');
}

/** A new signing secret: `whsec_` and 32 base62 characters (~190 bits). */
export function newWebhookSecret(): string {
  return `whsec_${randomToken(32)}`;
}
