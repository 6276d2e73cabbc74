/** PaymentMethods: what a payer pays with. Cards carry only brand, last4, expiry and a vault token. */
import type { Selectable } from 'kysely';
import { unixSeconds, type ListParams, type Page, type Tenant } from '../kernel/index.ts';
import { paginate, type Db, type PaymentMethodsTable } from '../db/index.ts';

export type PaymentMethodRow = Selectable<PaymentMethodsTable>;

/** Stripe's test PaymentMethod ids, usable in test mode wherever a PaymentMethod id is accepted. */
export const testPaymentMethodCards: Readonly<Record<string, string>> = Object.freeze({
  pm_card_visa: '4242424242424242',
  pm_card_visa_debit: '4000056655665556',
  pm_card_mastercard: '5555555555554444',
  pm_card_amex: '378282246310005',
  pm_card_jcb: '3566002020360505',
  pm_card_unionpay: '6200000000000005',
  pm_card_chargeDeclined: '4000000000000002',
  pm_card_chargeDeclinedInsufficientFunds: '4000000000009995',
  pm_card_chargeDeclinedLostCard: '4000000000009987',
  pm_card_chargeDeclinedStolenCard: '4000000000009979',
  pm_card_chargeDeclinedExpiredCard: '4000000000000069',
  pm_card_chargeDeclinedIncorrectCvc: '4000000000000127',
  pm_card_chargeDeclinedProcessingError: '4000000000000119',
  pm_card_threeDSecure2Required: '4000002500003155',
  pm_card_authenticationRequired: '4000002760003184',
});

export function serializePaymentMethod(row: PaymentMethodRow): Record<string, unknown> {
  const base = {
    id: row.id,
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: {
      address: null,
      email: null,
      name: null,
      phone: null,
      ...row.billing_details,
    },
    created: unixSeconds(row.created_at),
    customer: row.customer_id,
    livemode: row.livemode,
    metadata: row.metadata,
    type: row.type,
  };
  if (row.type !== 'card') return { ...base, [row.type]: {} };
  return {
    ...base,
    card: {
      brand: row.card_brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'unchecked' },
      country: row.card_country,
      display_brand: row.card_brand,
      exp_month: row.card_exp_month,
      exp_year: row.card_exp_year,
      fingerprint: row.card_fingerprint,
      funding: row.card_funding,
      generated_from: null,
      last4: row.card_last4,
      networks: { available: [row.card_brand], preferred: null },
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
  };
}

export async function getPaymentMethod(db: Db, tenant: Tenant, id: string): Promise<PaymentMethodRow | undefined> {
  return await db
    .selectFrom('payment_methods')
    .selectAll()
    .where('id', '=', id)
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .executeTakeFirst();
}

/** The mode an id exists in for this merchant (to tell a wrong-mode key from a missing object). */
export async function findPaymentMethodMode(db: Db, merchantId: string, id: string): Promise<boolean | undefined> {
  const row = await db.selectFrom('payment_methods').select('livemode').where('id', '=', id).where('merchant_id', '=', merchantId).executeTakeFirst();
  return row?.livemode;
}

/** Every PaymentMethod attached to a customer (to detach them when the customer is deleted). */
export async function allCustomerPaymentMethods(db: Db, tenant: Tenant, customerId: string): Promise<PaymentMethodRow[]> {
  return await db
    .selectFrom('payment_methods')
    .selectAll()
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where('customer_id', '=', customerId)
    .orderBy('created_at')
    .execute();
}

export async function listCustomerPaymentMethods(
  db: Db,
  tenant: Tenant,
  params: ListParams & { customerId: string; type?: string | undefined },
): Promise<Page<PaymentMethodRow>> {
  let query = db
    .selectFrom('payment_methods')
    .selectAll()
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where('customer_id', '=', params.customerId);
  if (params.type !== undefined) query = query.where('type', '=', params.type);
  return await paginate({
    query,
    table: 'payment_methods',
    params,
    findCursor: (id) => db.selectFrom('payment_methods').select(['created_at', 'id']).where('id', '=', id).where('merchant_id', '=', tenant.merchantId).executeTakeFirst(),
  });
}
