/**
 * What Fenpay needs to act as one merchant at a Stripe-compatible acquirer: that merchant's secret (or
 * restricted) key and, for anything but api.stripe.com, where the API lives. Checked once, when the
 * channel is built, so a wrong key fails at boot and not at the first payment.
 */
import type { Secret } from '../../kernel/index.ts';

export interface StripeAcquirerCredentials {
  /** `sk_test_…`/`sk_live_…` (or a restricted `rk_…` key with PaymentIntents, PaymentMethods and Refunds write). */
  readonly secretKey: Secret<string>;
  /** Default api.stripe.com. */
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  /** Default https. */
  readonly protocol?: 'http' | 'https' | undefined;
}

/** The mode a key acts in, read from its prefix as Stripe defines it. */
export function keyMode(secretKey: string): 'test' | 'live' | undefined {
  const match = /^(?:sk|rk)_(test|live)_[A-Za-z0-9]+$/.exec(secretKey);
  return match?.[1] === 'test' ? 'test' : match?.[1] === 'live' ? 'live' : undefined;
}

/** Throws a TypeError naming the bad field; never echoes the key. */
export function checkCredentials(credentials: StripeAcquirerCredentials, modes: readonly ('test' | 'live')[]): 'test' | 'live' {
  const mode = keyMode(credentials.secretKey.reveal());
  if (mode === undefined) throw new TypeError('stripe_acquirer: secretKey must be a secret (sk_) or restricted (rk_) key');
  if (modes.length !== 1 || modes[0] !== mode) {
    // One key acts in one mode: a test key serving live payments would approve 4242… for free.
    throw new TypeError(`stripe_acquirer: a ${mode}-mode key serves modes ['${mode}'] exactly`);
  }
  if (credentials.host !== undefined && !/^[A-Za-z0-9.-]+$/.test(credentials.host)) throw new TypeError('stripe_acquirer: host must be a bare host name');
  if (credentials.port !== undefined && !(Number.isInteger(credentials.port) && credentials.port > 0 && credentials.port < 65_536)) {
    throw new TypeError('stripe_acquirer: port must be 1–65535');
  }
  return mode;
}
