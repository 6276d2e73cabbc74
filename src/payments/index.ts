/**
 * PaymentIntents, their attempts and refunds: rows, reads, serialization and the state machine.
 * Writes are described by flows as WriteSets; this room decides which transitions are legal.
 */
import { sql, type Selectable } from 'kysely';
import { toJsonAmount, unixSeconds, type ListParams, type Page, type Tenant } from '../kernel/index.ts';
import { paginate, type Db, type Guard, type PaymentAttemptsTable, type PaymentIntentsTable, type RefundsTable } from '../db/index.ts';

export type PaymentIntentRow = Selectable<PaymentIntentsTable>;
export type AttemptRow = Selectable<PaymentAttemptsTable>;
export type RefundRow = Selectable<RefundsTable>;

export const intentStatuses = [
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
  'processing',
  'requires_capture',
  'succeeded',
  'canceled',
] as const;
export type IntentStatus = (typeof intentStatuses)[number];

/**
 * Attempt statuses. `processing` means sent and not known: only an explicit answer from the channel
 * (or a query) moves it on. `capturing` and `canceling` mark a channel call in flight for that attempt,
 * so two concurrent captures or cancels cannot both reach the channel.
 */
export type AttemptStatus = 'processing' | 'requires_action' | 'authorized' | 'capturing' | 'canceling' | 'succeeded' | 'failed' | 'canceled';
export type RefundStatus = 'pending' | 'succeeded' | 'failed';

export const cancellationReasons = ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'] as const;

/** The legal transitions of a PaymentIntent, checked by tests against every operation. */
export const intentTransitions: Readonly<Record<IntentStatus, readonly IntentStatus[]>> = {
  requires_payment_method: ['requires_confirmation', 'processing', 'canceled'],
  requires_confirmation: ['processing', 'canceled'],
  // Unknown outcomes are never canceled locally: only the channel's answer (success or failure) ends processing.
  processing: ['requires_action', 'requires_capture', 'succeeded', 'requires_payment_method'],
  // A channel may report a payer who finished a challenge as still pending (processing) before the final answer.
  requires_action: ['processing', 'requires_capture', 'succeeded', 'requires_payment_method', 'canceled'],
  requires_capture: ['succeeded', 'canceled'],
  succeeded: [],
  canceled: [],
};

export function canTransition(from: string, to: IntentStatus): boolean {
  return (intentTransitions[from as IntentStatus] ?? []).includes(to);
}

export const confirmableStatuses: readonly string[] = ['requires_payment_method', 'requires_confirmation'];
export const cancelableStatuses: readonly string[] = ['requires_payment_method', 'requires_confirmation', 'requires_action', 'requires_capture'];

export function serializePaymentIntent(pi: PaymentIntentRow): Record<string, unknown> {
  return {
    id: pi.id,
    object: 'payment_intent',
    amount: toJsonAmount(pi.amount),
    amount_capturable: toJsonAmount(pi.amount_capturable),
    amount_details: { tip: {} },
    amount_received: toJsonAmount(pi.amount_received),
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: pi.canceled_at ? unixSeconds(pi.canceled_at) : null,
    cancellation_reason: pi.cancellation_reason,
    capture_method: pi.capture_method,
    client_secret: pi.client_secret,
    confirmation_method: pi.confirmation_method,
    created: unixSeconds(pi.created_at),
    currency: pi.currency,
    customer: pi.customer_id,
    description: pi.description,
    last_payment_error: pi.last_payment_error,
    latest_charge: pi.latest_attempt_id,
    livemode: pi.livemode,
    metadata: pi.metadata,
    next_action: pi.next_action,
    on_behalf_of: null,
    payment_method: pi.payment_method_id,
    payment_method_configuration_details: null,
    payment_method_options: { card: { request_three_d_secure: 'automatic' }, ...pi.payment_method_options },
    payment_method_types: pi.payment_method_types,
    processing: null,
    receipt_email: pi.receipt_email,
    return_url: pi.return_url,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: pi.statement_descriptor,
    statement_descriptor_suffix: null,
    status: pi.status,
    transfer_data: null,
    transfer_group: null,
  };
}

export function serializeRefund(refund: RefundRow): Record<string, unknown> {
  return {
    id: refund.id,
    object: 'refund',
    amount: toJsonAmount(refund.amount),
    balance_transaction: refund.journal_id,
    charge: refund.attempt_id,
    created: unixSeconds(refund.created_at),
    currency: refund.currency,
    destination_details: { card: { type: 'refund' }, type: 'card' },
    failure_reason: refund.failure_reason,
    metadata: refund.metadata,
    payment_intent: refund.payment_intent_id,
    reason: refund.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: refund.status,
    transfer_reversal: null,
  };
}

export async function getPaymentIntent(db: Db, tenant: Tenant, id: string): Promise<PaymentIntentRow | undefined> {
  return await db
    .selectFrom('payment_intents')
    .selectAll()
    .where('id', '=', id)
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .executeTakeFirst();
}

/** Any mode: to tell "exists in the other mode" (a clear error) from "does not exist" (404). */
export async function findPaymentIntentMode(db: Db, merchantId: string, id: string): Promise<boolean | undefined> {
  const row = await db.selectFrom('payment_intents').select('livemode').where('id', '=', id).where('merchant_id', '=', merchantId).executeTakeFirst();
  return row?.livemode;
}

export async function findRefundMode(db: Db, merchantId: string, id: string): Promise<boolean | undefined> {
  const row = await db.selectFrom('refunds').select('livemode').where('id', '=', id).where('merchant_id', '=', merchantId).executeTakeFirst();
  return row?.livemode;
}

export async function getPaymentIntentById(db: Db, id: string): Promise<PaymentIntentRow | undefined> {
  return await db.selectFrom('payment_intents').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getAttempt(db: Db, id: string): Promise<AttemptRow | undefined> {
  return await db.selectFrom('payment_attempts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getAttemptByOrderNo(db: Db, channel: string, orderNo: string): Promise<AttemptRow | undefined> {
  return await db.selectFrom('payment_attempts').selectAll().where('channel', '=', channel).where('channel_order_no', '=', orderNo).executeTakeFirst();
}

export async function listPaymentIntents(db: Db, tenant: Tenant, params: ListParams & { customerId?: string | undefined }): Promise<Page<PaymentIntentRow>> {
  let query = db
    .selectFrom('payment_intents')
    .selectAll()
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode);
  if (params.customerId !== undefined) query = query.where('customer_id', '=', params.customerId);
  return await paginate({
    query,
    table: 'payment_intents',
    params,
    findCursor: (id) => db.selectFrom('payment_intents').select(['created_at', 'id']).where('id', '=', id).where('merchant_id', '=', tenant.merchantId).executeTakeFirst(),
  });
}

export async function getRefund(db: Db, tenant: Tenant, id: string): Promise<RefundRow | undefined> {
  return await db
    .selectFrom('refunds')
    .selectAll()
    .where('id', '=', id)
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .executeTakeFirst();
}

export async function listRefunds(db: Db, tenant: Tenant, params: ListParams & { paymentIntentId?: string | undefined; chargeId?: string | undefined }): Promise<Page<RefundRow>> {
  let query = db
    .selectFrom('refunds')
    .selectAll()
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode);
  if (params.paymentIntentId !== undefined) query = query.where('payment_intent_id', '=', params.paymentIntentId);
  if (params.chargeId !== undefined) query = query.where('attempt_id', '=', params.chargeId);
  return await paginate({
    query,
    table: 'refunds',
    params,
    findCursor: (id) => db.selectFrom('refunds').select(['created_at', 'id']).where('id', '=', id).where('merchant_id', '=', tenant.merchantId).executeTakeFirst(),
  });
}

/** Attempts whose outcome is unknown and due for an active query. */
export async function attemptsDueForSync(db: Db, options: { now: Date; limit: number }): Promise<AttemptRow[]> {
  return await db
    .selectFrom('payment_attempts')
    .selectAll()
    .where('status', 'in', ['processing', 'requires_action'])
    .where('next_sync_at', '<=', options.now)
    .orderBy('next_sync_at')
    .limit(options.limit)
    .execute();
}

/** Attempts with a capture or cancel sent but not booked for a while (a crash, or no answer). */
export async function attemptsStuckInFlight(db: Db, options: { updatedBefore: Date; limit: number }): Promise<AttemptRow[]> {
  return await db
    .selectFrom('payment_attempts')
    .selectAll()
    .where('status', 'in', ['capturing', 'canceling'])
    .where('updated_at', '<', options.updatedBefore)
    .orderBy('updated_at')
    .limit(options.limit)
    .execute();
}

/** Refunds whose channel answer never came (or whose process died) after `createdBefore`. */
export async function refundsPending(db: Db, options: { createdBefore: Date; limit: number }): Promise<RefundRow[]> {
  return await db
    .selectFrom('refunds')
    .selectAll()
    .where('status', '=', 'pending')
    .where('created_at', '<', options.createdBefore)
    .orderBy('created_at')
    .limit(options.limit)
    .execute();
}

/** Unpaid intents past their expiry. */
export async function intentsDueForExpiry(db: Db, options: { now: Date; limit: number }): Promise<PaymentIntentRow[]> {
  return await db
    .selectFrom('payment_intents')
    .selectAll()
    .where('status', 'in', ['requires_payment_method', 'requires_confirmation', 'requires_action'])
    .where('expires_at', '<=', options.now)
    .orderBy('expires_at')
    .limit(options.limit)
    .execute();
}

/** Authorizations not captured in time. */
export async function authorizationsDueForExpiry(db: Db, options: { now: Date; limit: number }): Promise<PaymentIntentRow[]> {
  return await db
    .selectFrom('payment_intents')
    .selectAll()
    .where('status', '=', 'requires_capture')
    .where('capture_before', '<=', options.now)
    .orderBy('capture_before')
    .limit(options.limit)
    .execute();
}

/**
 * Tiered backoff for active queries of unknown attempts: seconds at first, then minutes, hours, daily.
 * Returns undefined once the channel's query window (here 7 days of tries) is exhausted.
 */
export function nextSyncDelaySeconds(syncCount: number): number | undefined {
  const tiers = [2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3600 * 3, 3600 * 6, 3600 * 12];
  if (syncCount < tiers.length) return tiers[syncCount];
  return syncCount < tiers.length + 7 ? 86_400 : undefined;
}

/**
 * Every mutable column of an intent (one shape, so a batch updates all such intents in one statement),
 * or, given the row as read (`previous`, whose version the write set guards), only the columns that
 * differ from it plus version and updated_at: under the guard the others still hold exactly those
 * values, and a shorter UPDATE is less for PostgreSQL to parse and log. Updates of one outcome share
 * a shape, so the hot path still batches into one statement per shape.
 */
export function intentUpdate(pi: PaymentIntentRow, previous?: PaymentIntentRow): { table: 'payment_intents'; key: { id: string }; set: Record<string, unknown> } {
  return {
    table: 'payment_intents',
    key: { id: pi.id },
    set: changedColumns(previous, {
      amount: pi.amount,
      currency: pi.currency,
      status: pi.status,
      capture_method: pi.capture_method,
      confirmation_method: pi.confirmation_method,
      payment_method_types: pi.payment_method_types,
      customer_id: pi.customer_id,
      payment_method_id: pi.payment_method_id,
      description: pi.description,
      receipt_email: pi.receipt_email,
      statement_descriptor: pi.statement_descriptor,
      return_url: pi.return_url,
      metadata: pi.metadata,
      amount_capturable: pi.amount_capturable,
      amount_received: pi.amount_received,
      amount_refunded: pi.amount_refunded,
      latest_attempt_id: pi.latest_attempt_id,
      next_action: pi.next_action,
      payment_method_options: pi.payment_method_options,
      last_payment_error: pi.last_payment_error,
      cancellation_reason: pi.cancellation_reason,
      canceled_at: pi.canceled_at,
      capture_before: pi.capture_before,
      expires_at: pi.expires_at,
      version: pi.version,
      updated_at: pi.updated_at,
    }),
  };
}

/** Every mutable column of an attempt, likewise. */
export function attemptUpdate(a: AttemptRow, previous?: AttemptRow): { table: 'payment_attempts'; key: { id: string }; set: Record<string, unknown> } {
  return {
    table: 'payment_attempts',
    key: { id: a.id },
    set: changedColumns(previous, {
      status: a.status,
      channel_reference: a.channel_reference,
      amount_captured: a.amount_captured,
      amount_refunded: a.amount_refunded,
      failure_code: a.failure_code,
      decline_code: a.decline_code,
      failure_message: a.failure_message,
      auth_transfer_id: a.auth_transfer_id,
      sync_count: a.sync_count,
      next_sync_at: a.next_sync_at,
      version: a.version,
      updated_at: a.updated_at,
    }),
  };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

function changedColumns(previous: object | undefined, set: Record<string, unknown>): Record<string, unknown> {
  if (previous === undefined) return set;
  const before = previous as Record<string, unknown>;
  const changed: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(set)) {
    if (column === 'version' || column === 'updated_at' || !sameValue(value, before[column])) changed[column] = value;
  }
  return changed;
}

/** The version guards of an attempt and its intent, which most payment writes take together. */
export function paymentGuards(attempt: AttemptRow, intent: PaymentIntentRow): [Guard, Guard] {
  return [
    { table: 'payment_attempts', id: attempt.id, version: attempt.version },
    { table: 'payment_intents', id: intent.id, version: intent.version },
  ];
}

/** Bumps the version and touches updated_at: every written row version is read-guarded by the next writer. */
export function nextVersion<T extends { version: number; updated_at: Date }>(row: T, patch: Partial<T>, now: Date): T {
  return { ...row, ...patch, version: row.version + 1, updated_at: now };
}

/**
 * Late successes (paid at the channel after the intent was closed or paid otherwise) not yet refunded,
 * of merchants that have them refunded automatically (the default; `late_success: review` keeps them for
 * a person).
 */
export async function lateSuccessesToRefund(db: Db, options: { limit: number }): Promise<{ id: string }[]> {
  return await db
    .selectFrom('payment_attempts as a')
    .innerJoin('merchants as m', 'm.id', 'a.merchant_id')
    .select('a.id')
    .where('a.failure_message', '=', 'late_success_requires_review')
    .where('a.status', '=', 'succeeded')
    .whereRef('a.amount_refunded', '<', 'a.amount_captured')
    .where(sql<boolean>`coalesce(m.settings->>'late_success', 'refund') = 'refund'`)
    .limit(options.limit)
    .execute();
}
