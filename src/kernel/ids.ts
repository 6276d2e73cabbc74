import { randomFillSync } from 'node:crypto';

/**
 * Public ids are application-generated: a Stripe-style prefix and 24 random base62 characters
 * (~143 bits). No database sequence is involved, so ids stay valid on a sharded database.
 */
const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export const idPrefixes = {
  merchant: 'acct',
  apiKey: 'key',
  customer: 'cus',
  paymentMethod: 'pm',
  paymentIntent: 'pi',
  attempt: 'ch',
  refund: 're',
  event: 'evt',
  balanceTransaction: 'txn',
  transfer: 'tr',
  vaultToken: 'vt',
  request: 'req',
  webhookEndpoint: 'we',
  webhookSecret: 'whsk',
  webhookDelivery: 'whdl',
  webhookAttempt: 'what',
  channelNotification: 'chn',
  channelAccount: 'cha',
  checkoutSession: 'cs',
  checkoutLineItem: 'li',
  price: 'price',
  product: 'prod',
  promotionCode: 'promo',
  couponRedemption: 'cpnr',
  coupon: 'cpn',
} as const;

export type IdKind = keyof typeof idPrefixes;

// Random bytes are drawn from the CSPRNG a few kilobytes at a time and each byte is used once: one
// call per id cost more than the rest of the id (the pooling crypto.randomUUID does for the same reason).
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++]!;
}

export function randomToken(length: number): string {
  // Rejection sampling keeps the distribution uniform over the 62-character alphabet.
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    if (byte < 248) out += alphabet[byte % 62];
  }
  return out;
}

export function newId(kind: IdKind): string {
  return `${idPrefixes[kind]}_${randomToken(24)}`;
}

const idPattern = /^[a-z]+_[0-9A-Za-z]{1,64}$/;

/** True when `value` looks like an id of the given kind (prefix and charset); says nothing of existence. */
export function isIdOf(kind: IdKind, value: string): boolean {
  return value.startsWith(`${idPrefixes[kind]}_`) && idPattern.test(value);
}
