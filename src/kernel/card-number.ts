/**
 * Card numbers as pure data: normalisation, the Luhn check, brand detection by IIN range.
 * Nothing here stores or prints a number; callers hold the digits inside a Secret everywhere else.
 */

export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'jcb' | 'unionpay' | 'discover' | 'diners' | 'unknown';

/** Shortest and longest primary account numbers in use (ISO/IEC 7812 allows up to 19 digits). */
const cardNumberLengthMin = 12;
const cardNumberLengthMax = 19;

/**
 * Strips the spaces and dashes people type between groups and returns the bare digits,
 * or undefined when anything else is left or the length is outside 12–19 digits.
 */
export function normalizeCardNumber(input: string): string | undefined {
  const digits = input.replace(/[\s-]/g, '');
  if (!/^[0-9]+$/.test(digits)) return undefined;
  if (digits.length < cardNumberLengthMin || digits.length > cardNumberLengthMax) return undefined;
  return digits;
}

/** The Luhn (mod 10) check every card number carries in its last digit. False for anything but digits. */
export function luhnValid(digits: string): boolean {
  if (!/^[0-9]+$/.test(digits)) return false;
  let sum = 0;
  // Walk from the check digit leftwards, doubling every second digit.
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let digit = digits.charCodeAt(i) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** The leading `length` digits as a number, for range comparisons (NaN when too short). */
function prefix(digits: string, length: number): number {
  return digits.length >= length ? Number(digits.slice(0, length)) : Number.NaN;
}

function within(value: number, low: number, high: number): boolean {
  return value >= low && value <= high;
}

/**
 * The card brand from the issuer identification number. Order matters where ranges overlap:
 * UnionPay's 62 is checked before Discover, whose co-branded 622126–622925 range is issued as UnionPay.
 */
export function detectBrand(digits: string): CardBrand {
  if (!/^[0-9]+$/.test(digits)) return 'unknown';
  const p1 = prefix(digits, 1);
  const p2 = prefix(digits, 2);
  const p3 = prefix(digits, 3);
  const p4 = prefix(digits, 4);
  if (p2 === 62 || p2 === 81) return 'unionpay';
  if (p1 === 4) return 'visa';
  if (within(p2, 51, 55) || within(p4, 2221, 2720)) return 'mastercard';
  if (p2 === 34 || p2 === 37) return 'amex';
  if (within(p4, 3528, 3589)) return 'jcb';
  if (p4 === 6011 || within(p3, 644, 649) || p2 === 65) return 'discover';
  if (within(p3, 300, 305) || p2 === 36 || p2 === 38 || p2 === 39) return 'diners';
  return 'unknown';
}

/** Digits in the card security code: American Express prints four, every other brand three. */
export function cvcLength(brand: CardBrand): 3 | 4 {
  return brand === 'amex' ? 4 : 3;
}
