/**
 * The double-entry ledger, in TigerBeetle's vocabulary. Every movement of money is a transfer that
 * debits one account and credits another by the same amount; authorizations are pending transfers that
 * are later posted (fully or partly) or voided. Transfers are only ever appended (a trigger refuses
 * UPDATE, DELETE and TRUNCATE for every role). Balances are running sums kept in per-account buckets,
 * written in the same database transaction as the transfers they sum, and audited against them.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { assert, newId, toJsonAmount, unixSeconds, type ListParams, type Page, type Tenant } from '../kernel/index.ts';
import { paginate, type BalanceDelta, type Claim, type Db, type Row } from '../db/index.ts';

export type AccountCode = 'merchant_balance' | 'fee_income' | `channel_clearing:${string}`;

export interface AccountRef {
  readonly merchantId: string | null;
  readonly livemode: boolean;
  readonly currency: string;
  readonly code: AccountCode;
}

/** Why money moved; BalanceTransactions are built from these. */
export type TransferCode = 'authorization' | 'authorization_release' | 'capture' | 'charge' | 'fee' | 'refund' | 'refund_release';

export interface PendingTransfer {
  readonly id: string;
  readonly debit: AccountRef;
  readonly credit: AccountRef;
  readonly amount: bigint;
  readonly currency: string;
}

interface TransferBase {
  /** Generated and stored before submission: the transfer id is its idempotency key. */
  readonly id: string;
  readonly journalId: string;
  readonly code: TransferCode;
  readonly merchantId: string;
  readonly livemode: boolean;
  readonly sourceId: string;
  readonly at: Date;
}

export type TransferSpec =
  | (TransferBase & { readonly phase: 'single' | 'pending'; readonly debit: AccountRef; readonly credit: AccountRef; readonly amount: bigint; readonly currency: string })
  | (TransferBase & { readonly phase: 'post'; readonly pending: PendingTransfer; readonly amount: bigint })
  | (TransferBase & { readonly phase: 'void'; readonly pending: PendingTransfer });

// Account ids are a pure function of the reference; a payment names three accounts per transfer set,
// so the digests of recently used ones are kept (bounded: cleared when full).
const accountIds = new Map<string, string>();

export function accountId(ref: AccountRef): string {
  const key = `${ref.merchantId ?? '*'}|${ref.livemode ? 'live' : 'test'}|${ref.currency}|${ref.code}`;
  let id = accountIds.get(key);
  if (id === undefined) {
    id = `la_${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`;
    if (accountIds.size >= 10_000) accountIds.clear();
    accountIds.set(key, id);
  }
  return id;
}

export function merchantBalanceAccount(tenant: Tenant, currency: string): AccountRef {
  return { merchantId: tenant.merchantId, livemode: tenant.livemode, currency, code: 'merchant_balance' };
}

export function channelClearingAccount(channel: string, livemode: boolean, currency: string): AccountRef {
  return { merchantId: null, livemode, currency, code: `channel_clearing:${channel}` };
}

export function feeIncomeAccount(livemode: boolean, currency: string): AccountRef {
  return { merchantId: null, livemode, currency, code: 'fee_income' };
}

export function newTransferId(): string {
  return newId('transfer');
}

export function newJournalId(): string {
  return newId('balanceTransaction');
}

export interface LedgerWrites {
  readonly insertsIfAbsent: Claim[];
  readonly inserts: { table: 'ledger_transfers'; row: Row }[];
  readonly balanceDeltas: BalanceDelta[];
}

/** Turns transfers into the rows and balance deltas a WriteSet carries. Pure. */
export function ledgerWrites(transfers: readonly TransferSpec[]): LedgerWrites {
  const insertsIfAbsent: Claim[] = [];
  const inserts: { table: 'ledger_transfers'; row: Row }[] = [];
  const balanceDeltas: BalanceDelta[] = [];
  const seenAccounts = new Set<string>();
  const ensure = (ref: AccountRef) => {
    const id = accountId(ref);
    if (seenAccounts.has(id)) return id;
    seenAccounts.add(id);
    insertsIfAbsent.push({
      table: 'ledger_accounts',
      conflictColumns: ['id'],
      row: {
        id,
        merchant_id: ref.merchantId,
        livemode: ref.livemode,
        currency: ref.currency,
        code: ref.code,
        debits_must_not_exceed_credits: ref.code === 'merchant_balance',
      },
    });
    return id;
  };
  const delta = (ref: AccountRef, d: { dp?: bigint; dP?: bigint; cp?: bigint; cP?: bigint }) => {
    balanceDeltas.push({
      accountId: accountId(ref),
      merchantId: ref.merchantId,
      debitsPending: d.dp ?? 0n,
      debitsPosted: d.dP ?? 0n,
      creditsPending: d.cp ?? 0n,
      creditsPosted: d.cP ?? 0n,
      nonNegative: ref.code === 'merchant_balance',
    });
  };

  for (const t of transfers) {
    const debit = t.phase === 'post' || t.phase === 'void' ? t.pending.debit : t.debit;
    const credit = t.phase === 'post' || t.phase === 'void' ? t.pending.credit : t.credit;
    const currency = t.phase === 'post' || t.phase === 'void' ? t.pending.currency : t.currency;
    const amount = t.phase === 'void' ? t.pending.amount : t.amount;
    assert(amount >= 0n, 'transfer amount must not be negative');
    assert(debit.currency === currency && credit.currency === currency, 'a transfer moves one currency');
    if (t.phase === 'post') assert(t.amount <= t.pending.amount, 'a post cannot exceed its pending transfer');
    const debitId = ensure(debit);
    const creditId = ensure(credit);
    assert(debitId !== creditId, 'a transfer needs two different accounts');
    inserts.push({
      table: 'ledger_transfers',
      row: {
        id: t.id,
        journal_id: t.journalId,
        merchant_id: t.merchantId,
        livemode: t.livemode,
        debit_account_id: debitId,
        credit_account_id: creditId,
        amount,
        currency,
        code: t.code,
        phase: t.phase,
        pending_id: t.phase === 'post' || t.phase === 'void' ? t.pending.id : null,
        source_id: t.sourceId,
        created_at: t.at,
      },
    });
    switch (t.phase) {
      case 'single':
        delta(debit, { dP: amount });
        delta(credit, { cP: amount });
        break;
      case 'pending':
        delta(debit, { dp: amount });
        delta(credit, { cp: amount });
        break;
      case 'post':
        delta(debit, { dp: -t.pending.amount, dP: amount });
        delta(credit, { cp: -t.pending.amount, cP: amount });
        break;
      case 'void':
        delta(debit, { dp: -amount });
        delta(credit, { cp: -amount });
        break;
    }
  }
  return { insertsIfAbsent, inserts, balanceDeltas };
}

/** Reads a pending transfer back (to post or void it). */
export async function getPendingTransfer(db: Db, id: string): Promise<PendingTransfer | undefined> {
  const row = await db
    .selectFrom('ledger_transfers as t')
    .innerJoin('ledger_accounts as d', 'd.id', 't.debit_account_id')
    .innerJoin('ledger_accounts as c', 'c.id', 't.credit_account_id')
    .select([
      't.id', 't.amount', 't.currency', 't.phase',
      'd.merchant_id as d_merchant', 'd.livemode as d_livemode', 'd.currency as d_currency', 'd.code as d_code',
      'c.merchant_id as c_merchant', 'c.livemode as c_livemode', 'c.currency as c_currency', 'c.code as c_code',
    ])
    .where('t.id', '=', id)
    .executeTakeFirst();
  if (!row || row.phase !== 'pending') return undefined;
  return {
    id: row.id,
    amount: row.amount,
    currency: row.currency,
    debit: { merchantId: row.d_merchant, livemode: row.d_livemode, currency: row.d_currency, code: row.d_code as AccountCode },
    credit: { merchantId: row.c_merchant, livemode: row.c_livemode, currency: row.c_currency, code: row.c_code as AccountCode },
  };
}

/** The still-open pending transfer booked for a source (a refund's hold), if any. */
export async function findOpenPendingTransfer(db: Db, input: { sourceId: string; code: TransferCode }): Promise<PendingTransfer | undefined> {
  const row = await db
    .selectFrom('ledger_transfers as t')
    .select('t.id')
    .where('t.source_id', '=', input.sourceId)
    .where('t.code', '=', input.code)
    .where('t.phase', '=', 'pending')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('ledger_transfers as r').select('r.id').whereRef('r.pending_id', '=', 't.id'))))
    .executeTakeFirst();
  return row ? await getPendingTransfer(db, row.id) : undefined;
}

export interface BalanceEntry {
  readonly currency: string;
  readonly available: bigint;
  readonly pending: bigint;
}

/** available = posted credits − posted debits − debits reserved by pending transfers; pending = authorized, not captured. */
export async function getMerchantBalances(db: Db, tenant: Tenant): Promise<BalanceEntry[]> {
  const rows = await db
    .selectFrom('ledger_accounts as a')
    .innerJoin('ledger_account_buckets as b', 'b.account_id', 'a.id')
    .select([
      'a.currency',
      sql<bigint>`sum(b.credits_posted - b.debits_posted - b.debits_pending)::int8`.as('available'),
      sql<bigint>`sum(b.credits_pending)::int8`.as('pending'),
    ])
    .where('a.merchant_id', '=', tenant.merchantId)
    .where('a.livemode', '=', tenant.livemode)
    .where('a.code', '=', 'merchant_balance')
    .groupBy('a.currency')
    .orderBy('a.currency')
    .execute();
  return rows.map((r) => ({ currency: r.currency, available: r.available, pending: r.pending }));
}

export function serializeBalance(tenant: Tenant, entries: readonly BalanceEntry[], defaultCurrency: string): Record<string, unknown> {
  const list = entries.length > 0 ? entries : [{ currency: defaultCurrency, available: 0n, pending: 0n }];
  return {
    object: 'balance',
    available: list.map((e) => ({ amount: toJsonAmount(e.available), currency: e.currency, source_types: { card: toJsonAmount(e.available) } })),
    pending: list.map((e) => ({ amount: toJsonAmount(e.pending), currency: e.currency, source_types: { card: toJsonAmount(e.pending) } })),
    connect_reserved: list.map((e) => ({ amount: 0, currency: e.currency })),
    livemode: tenant.livemode,
  };
}

interface BalanceTransactionRow {
  id: string;
  created_at: Date;
  currency: string;
  source_id: string | null;
  gross: bigint;
  fee: bigint;
  kind: string;
}

function balanceTransactionsQuery(db: Db, tenant: Tenant) {
  const merchantAccounts = db
    .selectFrom('ledger_accounts')
    .select('id')
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where('code', '=', 'merchant_balance');
  const grouped = db
    .selectFrom('ledger_transfers as t')
    .select([
      't.journal_id as id',
      sql<Date>`min(t.created_at)`.as('created_at'),
      't.currency',
      sql<string | null>`max(t.source_id) FILTER (WHERE t.code <> 'fee')`.as('source_id'),
      sql<bigint>`coalesce(sum(t.amount) FILTER (WHERE t.code IN ('charge', 'capture')), 0)::int8 - coalesce(sum(t.amount) FILTER (WHERE t.code = 'refund'), 0)::int8`.as('gross'),
      sql<bigint>`coalesce(sum(t.amount) FILTER (WHERE t.code = 'fee'), 0)::int8`.as('fee'),
      sql<string>`CASE WHEN bool_or(t.code = 'refund') THEN 'refund' ELSE 'charge' END`.as('kind'),
    ])
    .where('t.merchant_id', '=', tenant.merchantId)
    .where('t.livemode', '=', tenant.livemode)
    .where('t.phase', 'in', ['single', 'post'])
    .where('t.code', 'in', ['charge', 'capture', 'fee', 'refund'])
    .where((eb) => eb.or([eb('t.debit_account_id', 'in', merchantAccounts), eb('t.credit_account_id', 'in', merchantAccounts)]))
    .groupBy(['t.journal_id', 't.currency']);
  return db.selectFrom(grouped.as('bt')).selectAll();
}

export function serializeBalanceTransaction(row: BalanceTransactionRow): Record<string, unknown> {
  const created = unixSeconds(row.created_at);
  const net = row.gross - row.fee;
  return {
    id: row.id,
    object: 'balance_transaction',
    amount: toJsonAmount(row.gross),
    available_on: created,
    created,
    currency: row.currency,
    description: row.kind === 'refund' ? 'REFUND FOR PAYMENT' : 'Payment',
    exchange_rate: null,
    fee: toJsonAmount(row.fee),
    fee_details: row.fee > 0n ? [{ amount: toJsonAmount(row.fee), application: null, currency: row.currency, description: 'Fenpay processing fees', type: 'stripe_fee' }] : [],
    net: toJsonAmount(net),
    reporting_category: row.kind,
    source: row.source_id,
    status: 'available',
    type: row.kind,
    balance_type: 'payments',
  };
}

export async function getBalanceTransaction(db: Db, tenant: Tenant, id: string): Promise<Record<string, unknown> | undefined> {
  const row = await balanceTransactionsQuery(db, tenant).where('bt.id', '=', id).executeTakeFirst();
  return row ? serializeBalanceTransaction(row) : undefined;
}

export async function listBalanceTransactions(
  db: Db,
  tenant: Tenant,
  params: ListParams & { source?: string | undefined; type?: string | undefined; currency?: string | undefined },
): Promise<Page<Record<string, unknown>>> {
  let query = balanceTransactionsQuery(db, tenant);
  if (params.source) query = query.where('bt.source_id', '=', params.source);
  if (params.type) query = query.where('bt.kind', '=', params.type);
  if (params.currency) query = query.where('bt.currency', '=', params.currency);
  const page = await paginate({
    query,
    table: 'bt',
    params,
    findCursor: async (id) => {
      const row = await balanceTransactionsQuery(db, tenant).where('bt.id', '=', id).select(['bt.created_at', 'bt.id']).executeTakeFirst();
      return row ? { created_at: row.created_at, id: row.id } : undefined;
    },
  });
  return { data: page.data.map(serializeBalanceTransaction), hasMore: page.hasMore };
}

export interface LedgerAudit {
  /** Per currency and mode: Σ posted debits, Σ posted credits, Σ pending debits, Σ pending credits. */
  readonly totals: { currency: string; livemode: boolean; debitsPosted: bigint; creditsPosted: bigint; debitsPending: bigint; creditsPending: bigint }[];
  /** Accounts whose buckets disagree with the sum of their transfers. */
  readonly bucketMismatches: string[];
  /** Non-negative accounts whose debits (posted + pending) exceed posted credits. */
  readonly negativeAccounts: string[];
  /** Pending transfers resolved more than once would violate the unique index; count of open holds. */
  readonly openPendingTransfers: number;
}

/** Recomputes every balance from the transfers and compares: the invariants a test and a job check. */
export async function auditLedger(db: Db): Promise<LedgerAudit> {
  const totals = await sql<{ currency: string; livemode: boolean; dP: bigint; cP: bigint; dp: bigint; cp: bigint }>`
    SELECT a.currency, a.livemode,
           sum(b.debits_posted)::int8 AS "dP", sum(b.credits_posted)::int8 AS "cP",
           sum(b.debits_pending)::int8 AS dp, sum(b.credits_pending)::int8 AS cp
      FROM ledger_account_buckets b JOIN ledger_accounts a ON a.id = b.account_id
     GROUP BY a.currency, a.livemode ORDER BY 1, 2`.execute(db);
  const mismatches = await sql<{ account_id: string }>`
    WITH effects AS (
      SELECT t.debit_account_id AS account_id,
             CASE t.phase WHEN 'pending' THEN t.amount WHEN 'post' THEN -p.amount WHEN 'void' THEN -p.amount ELSE 0 END AS dp,
             CASE WHEN t.phase IN ('single', 'post') THEN t.amount ELSE 0 END AS "dP", 0::int8 AS cp, 0::int8 AS "cP"
        FROM ledger_transfers t LEFT JOIN ledger_transfers p ON p.id = t.pending_id
      UNION ALL
      SELECT t.credit_account_id,
             0, 0,
             CASE t.phase WHEN 'pending' THEN t.amount WHEN 'post' THEN -p.amount WHEN 'void' THEN -p.amount ELSE 0 END,
             CASE WHEN t.phase IN ('single', 'post') THEN t.amount ELSE 0 END
        FROM ledger_transfers t LEFT JOIN ledger_transfers p ON p.id = t.pending_id
    ), from_transfers AS (
      SELECT account_id, sum(dp) AS dp, sum("dP") AS "dP", sum(cp) AS cp, sum("cP") AS "cP" FROM effects GROUP BY account_id
    ), from_buckets AS (
      SELECT account_id, sum(debits_pending) AS dp, sum(debits_posted) AS "dP", sum(credits_pending) AS cp, sum(credits_posted) AS "cP"
        FROM ledger_account_buckets GROUP BY account_id
    )
    SELECT coalesce(t.account_id, b.account_id) AS account_id
      FROM from_transfers t FULL JOIN from_buckets b ON b.account_id = t.account_id
     WHERE coalesce(t.dp, 0) <> coalesce(b.dp, 0) OR coalesce(t."dP", 0) <> coalesce(b."dP", 0)
        OR coalesce(t.cp, 0) <> coalesce(b.cp, 0) OR coalesce(t."cP", 0) <> coalesce(b."cP", 0)`.execute(db);
  const negative = await sql<{ account_id: string }>`
    SELECT b.account_id FROM ledger_account_buckets b JOIN ledger_accounts a ON a.id = b.account_id
     WHERE a.debits_must_not_exceed_credits
     GROUP BY b.account_id HAVING sum(b.debits_posted + b.debits_pending) > sum(b.credits_posted)`.execute(db);
  const open = await sql<{ n: bigint }>`
    SELECT count(*)::int8 AS n FROM ledger_transfers t
     WHERE t.phase = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = t.id)`.execute(db);
  return {
    totals: totals.rows.map((r) => ({ currency: r.currency, livemode: r.livemode, debitsPosted: r.dP, creditsPosted: r.cP, debitsPending: r.dp, creditsPending: r.cp })),
    bucketMismatches: mismatches.rows.map((r) => r.account_id),
    negativeAccounts: negative.rows.map((r) => r.account_id),
    openPendingTransfers: Number(open.rows[0]?.n ?? 0n),
  };
}
