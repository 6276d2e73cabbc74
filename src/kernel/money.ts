/**
 * Money is an integer count of minor units with an ISO 4217 currency attached.
 * The exponent table is the single source of truth for how many decimals a currency has;
 * an unknown currency is an error, never a guess.
 */

/** ISO 4217 minor-unit exponents for the currencies Fenpay accepts. */
const currencyExponents: Readonly<Record<string, number>> = Object.freeze({
  aed: 2, aud: 2, bhd: 3, brl: 2, cad: 2, chf: 2, clp: 0, cny: 2, czk: 2, dkk: 2, eur: 2, gbp: 2,
  hkd: 2, huf: 2, idr: 2, ils: 2, inr: 2, iqd: 3, isk: 0, jod: 3, jpy: 0, krw: 0, kwd: 3, lyd: 3,
  mop: 2, mxn: 2, myr: 2, nok: 2, nzd: 2, omr: 3, php: 2, pln: 2, sar: 2, sek: 2, sgd: 2, thb: 2,
  tnd: 3, try: 2, twd: 2, ugx: 0, usd: 2, vnd: 0, xaf: 0, xof: 0, zar: 2,
});

/** Largest amount accepted in one payment, in minor units (Stripe's limit is 99,999,999 for most currencies). */
export const amountMaxMinor = 99_999_999n;

export function isSupportedCurrency(code: string): boolean {
  return Object.hasOwn(currencyExponents, code);
}

export function currencyExponent(code: string): number {
  const exponent = currencyExponents[code];
  if (exponent === undefined) throw new RangeError(`unsupported currency ${code}`);
  return exponent;
}

export function supportedCurrencies(): string[] {
  return Object.keys(currencyExponents);
}

export interface Money {
  readonly amount: bigint;
  readonly currency: string;
}

/**
 * Fee in minor units for a rate in basis points, rounded half up with integer arithmetic only.
 * (amount * bps + 5000) / 10000 — exact for every bigint, no floats.
 */
export function feeForRate(amount: bigint, rateBps: bigint): bigint {
  if (amount < 0n || rateBps < 0n) throw new RangeError('fee inputs must be non-negative');
  return (amount * rateBps + 5_000n) / 10_000n;
}

/** Formats minor units as a decimal string ("12.34") for display and wire formats; never floats. */
export function formatMinor(amount: bigint, currency: string): string {
  const exponent = currencyExponent(currency);
  const negative = amount < 0n;
  const digits = (negative ? -amount : amount).toString().padStart(exponent + 1, '0');
  const whole = exponent === 0 ? digits : digits.slice(0, -exponent);
  const fraction = exponent === 0 ? '' : `.${digits.slice(-exponent)}`;
  return `${negative ? '-' : ''}${whole}${fraction}`;
}
