/** Creating, updating and deleting customers, with their events, through the write batcher. */
import { AppError, applyMetadata, newId, type MetadataPatch } from '../kernel/index.ts';
import { eventRow } from '../events/index.ts';
import { getCustomer, serializeCustomer, type CustomerRow } from '../customers/index.ts';
import { allCustomerPaymentMethods, getPaymentMethod, serializePaymentMethod, type PaymentMethodRow } from '../payment-methods/index.ts';
import type { WriteSet } from '../db/index.ts';
import { commit, retryOnConflict, type RequestContext, type Services } from './services.ts';

export interface CustomerFields {
  readonly email?: string | null | undefined;
  readonly name?: string | null | undefined;
  readonly phone?: string | null | undefined;
  readonly description?: string | null | undefined;
  readonly address?: Record<string, string | null> | null | undefined;
  readonly metadata?: MetadataPatch | undefined;
  readonly defaultPaymentMethod?: string | null | undefined;
  /** Create only: a PaymentMethod to attach to the new customer (Stripe's `payment_method`). */
  readonly paymentMethod?: string | undefined;
}

/** The PaymentMethod named by `payment_method` on create: it must exist and be free to attach. */
async function paymentMethodToAttach(services: Services, ctx: RequestContext, id: string | undefined): Promise<PaymentMethodRow | undefined> {
  if (id === undefined) return undefined;
  const pm = await getPaymentMethod(services.db, ctx.tenant, id);
  if (!pm) throw new AppError('resource_missing', { param: 'payment_method', message: `No such PaymentMethod: '${id}'` });
  if (pm.customer_id !== null) throw new AppError('payment_method_unexpected_state', { param: 'payment_method', message: `The PaymentMethod ${pm.id} is already attached to a customer.` });
  return pm;
}

/** A default payment method must be one of this customer's PaymentMethods. */
async function checkDefaultPaymentMethod(services: Services, ctx: RequestContext, input: { id: string | null | undefined; customerId: string; attaching: string | undefined }): Promise<void> {
  if (input.id === undefined || input.id === null || input.id === input.attaching) return;
  const param = 'invoice_settings[default_payment_method]';
  const pm = await getPaymentMethod(services.db, ctx.tenant, input.id);
  if (!pm) throw new AppError('resource_missing', { param, message: `No such PaymentMethod: '${input.id}'` });
  if (pm.customer_id !== input.customerId) {
    throw new AppError('payment_method_unexpected_state', { param, message: `The customer does not have a payment method with the ID ${pm.id}. The payment method must be attached to the customer.` });
  }
}

export async function createCustomer(services: Services, ctx: RequestContext, fields: CustomerFields): Promise<Record<string, unknown>> {
  // A PaymentMethod attached elsewhere meanwhile fails the version guard; the retry then refuses it.
  return await retryOnConflict(() => createCustomerOnce(services, ctx, fields));
}

async function createCustomerOnce(services: Services, ctx: RequestContext, fields: CustomerFields): Promise<Record<string, unknown>> {
  const now = services.now();
  const customerId = newId('customer');
  const pm = await paymentMethodToAttach(services, ctx, fields.paymentMethod);
  await checkDefaultPaymentMethod(services, ctx, { id: fields.defaultPaymentMethod, customerId, attaching: pm?.id });
  const row: CustomerRow = {
    id: customerId,
    merchant_id: ctx.tenant.merchantId,
    livemode: ctx.tenant.livemode,
    email: fields.email ?? null,
    name: fields.name ?? null,
    phone: fields.phone ?? null,
    description: fields.description ?? null,
    address: fields.address ?? null,
    metadata: applyMetadata({}, fields.metadata),
    invoice_default_payment_method: fields.defaultPaymentMethod ?? null,
    deleted: false,
    version: 1,
    created_at: now,
  };
  const body = serializeCustomer(row);
  const scope = ctx.idempotency;
  // Attaching in the same write as the customer: the version guard fails it if the PaymentMethod changed meanwhile.
  const attach: WriteSet = pm
    ? {
        guards: [{ table: 'payment_methods', id: pm.id, version: pm.version }],
        updates: [{ table: 'payment_methods', key: { id: pm.id }, set: { customer_id: row.id, version: pm.version + 1 } }],
        inserts: [eventRow({ tenant: ctx.tenant, type: 'payment_method.attached', object: serializePaymentMethod({ ...pm, customer_id: row.id, version: pm.version + 1 }) as { id: string }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now })],
      }
    : {};
  await commit(
    services,
    ctx,
    {
      guards: attach.guards ?? [],
      inserts: [
        { table: 'customers', row: { ...row } },
        eventRow({ tenant: ctx.tenant, type: 'customer.created', object: body as { id: string }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now }),
        ...(attach.inserts ?? []),
      ],
      updates: [...(attach.updates ?? []), ...(scope ? [scope.complete({ status: 200, body })] : [])],
    },
    { resourceId: row.id },
  );
  if (scope) scope.completed = true;
  return body;
}

export async function updateCustomer(services: Services, ctx: RequestContext, id: string, fields: CustomerFields): Promise<Record<string, unknown>> {
  return await retryOnConflict(async () => {
    const current = await getCustomer(services.db, ctx.tenant, id);
    if (!current) throw new AppError('resource_missing', { param: 'id', message: `No such customer: '${id}'` });
    await checkDefaultPaymentMethod(services, ctx, { id: fields.defaultPaymentMethod, customerId: id, attaching: undefined });
    const next: CustomerRow = {
      ...current,
      email: fields.email === undefined ? current.email : fields.email,
      name: fields.name === undefined ? current.name : fields.name,
      phone: fields.phone === undefined ? current.phone : fields.phone,
      description: fields.description === undefined ? current.description : fields.description,
      address: fields.address === undefined ? current.address : fields.address,
      metadata: applyMetadata(current.metadata, fields.metadata),
      invoice_default_payment_method: fields.defaultPaymentMethod === undefined ? current.invoice_default_payment_method : fields.defaultPaymentMethod,
      version: current.version + 1,
    };
    const previous: Record<string, unknown> = {};
    const before = serializeCustomer(current);
    const body = serializeCustomer(next);
    for (const key of Object.keys(body)) if (JSON.stringify(before[key]) !== JSON.stringify(body[key])) previous[key] = before[key];
    const scope = ctx.idempotency;
    await commit(
      services,
      ctx,
      {
        guards: [{ table: 'customers', id, version: current.version }],
        updates: [
          {
            table: 'customers',
            key: { id },
            set: {
              email: next.email, name: next.name, phone: next.phone, description: next.description, address: next.address,
              metadata: next.metadata, invoice_default_payment_method: next.invoice_default_payment_method, version: next.version,
            },
          },
          ...(scope ? [scope.complete({ status: 200, body })] : []),
        ],
        inserts:
          Object.keys(previous).length > 0
            ? [eventRow({ tenant: ctx.tenant, type: 'customer.updated', object: body as { id: string }, previousAttributes: previous, requestId: ctx.requestId, idempotencyKey: scope?.key, at: services.now() })]
            : [],
      },
      { resourceId: id },
    );
    if (scope) scope.completed = true;
    return body;
  });
}

export async function deleteCustomer(services: Services, ctx: RequestContext, id: string): Promise<Record<string, unknown>> {
  return await retryOnConflict(async () => {
    const current = await getCustomer(services.db, ctx.tenant, id);
    if (!current) throw new AppError('resource_missing', { param: 'id', message: `No such customer: '${id}'` });
    const body = { id, object: 'customer', deleted: true };
    const scope = ctx.idempotency;
    const now = services.now();
    // A deleted customer's PaymentMethods are detached with it, as at Stripe: nothing can use them through it again.
    const attached = await allCustomerPaymentMethods(services.db, ctx.tenant, id);
    await commit(
      services,
      ctx,
      {
        guards: [{ table: 'customers', id, version: current.version }, ...attached.map((pm) => ({ table: 'payment_methods' as const, id: pm.id, version: pm.version }))],
        updates: [
          { table: 'customers', key: { id }, set: { deleted: true, version: current.version + 1 } },
          ...attached.map((pm) => ({ table: 'payment_methods' as const, key: { id: pm.id }, set: { customer_id: null, version: pm.version + 1 } })),
          ...(scope ? [scope.complete({ status: 200, body })] : []),
        ],
        inserts: [
          eventRow({ tenant: ctx.tenant, type: 'customer.deleted', object: serializeCustomer(current) as { id: string }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now }),
          ...attached.map((pm) =>
            eventRow({ tenant: ctx.tenant, type: 'payment_method.detached', object: serializePaymentMethod({ ...pm, customer_id: null }) as { id: string }, previousAttributes: { customer: id }, requestId: ctx.requestId, idempotencyKey: scope?.key, at: now }),
          ),
        ],
      },
      { resourceId: id },
    );
    if (scope) scope.completed = true;
    return body;
  });
}
