/** Customers: Stripe-shaped records a merchant keeps about its payers. */
import type { Selectable } from 'kysely';
import { unixSeconds, type ListParams, type Page, type Tenant } from '../kernel/index.ts';
import { paginate, type CustomersTable, type Db } from '../db/index.ts';

export type CustomerRow = Selectable<CustomersTable>;

export function serializeCustomer(row: CustomerRow): Record<string, unknown> {
  if (row.deleted) return { id: row.id, object: 'customer', deleted: true };
  return {
    id: row.id,
    object: 'customer',
    address: row.address,
    balance: 0,
    created: unixSeconds(row.created_at),
    currency: null,
    default_source: null,
    delinquent: false,
    description: row.description,
    email: row.email,
    invoice_settings: { custom_fields: null, default_payment_method: row.invoice_default_payment_method, footer: null, rendering_options: null },
    livemode: row.livemode,
    metadata: row.metadata,
    name: row.name,
    phone: row.phone,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

export async function getCustomer(db: Db, tenant: Tenant, id: string, options: { includeDeleted?: boolean } = {}): Promise<CustomerRow | undefined> {
  let query = db
    .selectFrom('customers')
    .selectAll()
    .where('id', '=', id)
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode);
  if (!options.includeDeleted) query = query.where('deleted', '=', false);
  return await query.executeTakeFirst();
}

/** The mode an id exists in for this merchant (to tell a wrong-mode key from a missing object). */
export async function findCustomerMode(db: Db, merchantId: string, id: string): Promise<boolean | undefined> {
  const row = await db.selectFrom('customers').select('livemode').where('id', '=', id).where('merchant_id', '=', merchantId).executeTakeFirst();
  return row?.livemode;
}

export async function listCustomers(db: Db, tenant: Tenant, params: ListParams & { email?: string | undefined }): Promise<Page<CustomerRow>> {
  let query = db
    .selectFrom('customers')
    .selectAll()
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where('deleted', '=', false);
  if (params.email !== undefined) query = query.where('email', '=', params.email);
  return await paginate({
    query,
    table: 'customers',
    params,
    findCursor: (id) => db.selectFrom('customers').select(['created_at', 'id']).where('id', '=', id).where('merchant_id', '=', tenant.merchantId).executeTakeFirst(),
  });
}
