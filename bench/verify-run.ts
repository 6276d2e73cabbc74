/**
 * What the load must not have broken: the ledger balances, and every payment Fenpay acknowledged is in
 * the database as succeeded, with exactly one `charge` transfer for its amount. Runs after Fenpay has
 * stopped (and so has drained every accepted write).
 */
import { sql } from 'kysely';
import type { Db } from '../src/db/index.ts';
import { auditLedger } from '../src/ledger/index.ts';

export interface LedgerCheck {
  readonly ok: boolean;
  readonly totals: { currency: string; livemode: boolean; debitsPosted: string; creditsPosted: string; debitsPending: string; creditsPending: string; balanced: boolean }[];
  readonly bucketMismatches: number;
  readonly negativeAccounts: number;
  readonly openPendingTransfers: number;
}

export interface AcknowledgedCheck {
  readonly ok: boolean;
  readonly acknowledged: number;
  readonly duplicateAcknowledgements: number;
  readonly missing: number;
  readonly notSucceeded: number;
  /** Acknowledged intents without exactly one `charge` transfer. */
  readonly chargeCountWrong: number;
  /** Acknowledged intents whose charge amount differs from the intent's amount. */
  readonly chargeAmountWrong: number;
  readonly examples: readonly string[];
}

export interface DatabaseCounts {
  /** The merchant's PaymentIntents by status. */
  readonly intentsByStatus: Readonly<Record<string, number>>;
  readonly succeededInDatabase: number;
  readonly chargeTransfers: number;
  /**
   * succeeded in the database ≥ acknowledged (an unacknowledged request may still have committed), and
   * one charge transfer per succeeded intent across the whole merchant, acknowledged or not.
   */
  readonly ok: boolean;
}

export interface Verification {
  readonly ok: boolean;
  readonly ledger: LedgerCheck;
  readonly acknowledged: AcknowledgedCheck;
  readonly database: DatabaseCounts;
}

export async function verifyRun(db: Db, input: { merchantId: string; acknowledgedIds: readonly string[] }): Promise<Verification> {
  const ledger = await checkLedger(db);
  const acknowledged = await checkAcknowledged(db, input);
  const database = await countDatabase(db, input.merchantId, input.acknowledgedIds.length);
  return { ok: ledger.ok && acknowledged.ok && database.ok, ledger, acknowledged, database };
}

async function checkLedger(db: Db): Promise<LedgerCheck> {
  // One snapshot for every query of the audit.
  const audit = await db.transaction().setIsolationLevel('repeatable read').execute((tx) => auditLedger(tx));
  const totals = audit.totals.map((t) => ({
    currency: t.currency,
    livemode: t.livemode,
    debitsPosted: t.debitsPosted.toString(),
    creditsPosted: t.creditsPosted.toString(),
    debitsPending: t.debitsPending.toString(),
    creditsPending: t.creditsPending.toString(),
    balanced: t.debitsPosted === t.creditsPosted && t.debitsPending === t.creditsPending,
  }));
  return {
    ok: totals.every((t) => t.balanced) && audit.bucketMismatches.length === 0 && audit.negativeAccounts.length === 0,
    totals,
    bucketMismatches: audit.bucketMismatches.length,
    negativeAccounts: audit.negativeAccounts.length,
    openPendingTransfers: audit.openPendingTransfers,
  };
}

async function checkAcknowledged(db: Db, input: { merchantId: string; acknowledgedIds: readonly string[] }): Promise<AcknowledgedCheck> {
  const unique = [...new Set(input.acknowledgedIds)];
  let missing = 0;
  let notSucceeded = 0;
  let chargeCountWrong = 0;
  let chargeAmountWrong = 0;
  const examples: string[] = [];
  // source_id has no index: charges are counted once for the merchant, then joined by hash.
  for (let i = 0; i < unique.length; i += 20_000) {
    const chunk = unique.slice(i, i + 20_000);
    const result = await sql<{ id: string; found: boolean; status: string | null; charges: string; charged: string | null; amount: string | null }>`
      WITH acked AS (SELECT unnest(${chunk}::text[]) AS id),
           charges AS (
             SELECT a.payment_intent_id, count(*) AS n, sum(t.amount) AS charged
               FROM ledger_transfers t JOIN payment_attempts a ON a.id = t.source_id
              WHERE t.code = 'charge' AND t.merchant_id = ${input.merchantId} AND a.payment_intent_id = ANY(${chunk}::text[])
              GROUP BY a.payment_intent_id)
      SELECT acked.id, pi.id IS NOT NULL AS found, pi.status, coalesce(c.n, 0)::text AS charges, c.charged::text AS charged, pi.amount::text AS amount
        FROM acked
        LEFT JOIN payment_intents pi ON pi.id = acked.id AND pi.merchant_id = ${input.merchantId}
        LEFT JOIN charges c ON c.payment_intent_id = acked.id
       WHERE pi.id IS NULL OR pi.status <> 'succeeded' OR coalesce(c.n, 0) <> 1 OR c.charged IS DISTINCT FROM pi.amount`.execute(db);
    for (const row of result.rows) {
      if (!row.found) missing += 1;
      else if (row.status !== 'succeeded') notSucceeded += 1;
      if (row.found && row.charges !== '1') chargeCountWrong += 1;
      else if (row.found && row.charged !== row.amount) chargeAmountWrong += 1;
      if (examples.length < 10) examples.push(`${row.id}: found=${row.found} status=${row.status} charges=${row.charges} charged=${row.charged} amount=${row.amount}`);
    }
  }
  const duplicateAcknowledgements = input.acknowledgedIds.length - unique.length;
  return {
    ok: duplicateAcknowledgements === 0 && missing === 0 && notSucceeded === 0 && chargeCountWrong === 0 && chargeAmountWrong === 0,
    acknowledged: input.acknowledgedIds.length,
    duplicateAcknowledgements,
    missing,
    notSucceeded,
    chargeCountWrong,
    chargeAmountWrong,
    examples,
  };
}

async function countDatabase(db: Db, merchantId: string, acknowledged: number): Promise<DatabaseCounts> {
  const statuses = await sql<{ status: string; n: string }>`
    SELECT status, count(*)::text AS n FROM payment_intents WHERE merchant_id = ${merchantId} GROUP BY status ORDER BY status`.execute(db);
  const intentsByStatus: Record<string, number> = {};
  for (const row of statuses.rows) intentsByStatus[row.status] = Number(row.n);
  const charges = await sql<{ n: string }>`
    SELECT count(*)::text AS n FROM ledger_transfers WHERE merchant_id = ${merchantId} AND code = 'charge'`.execute(db);
  const succeededInDatabase = intentsByStatus.succeeded ?? 0;
  const chargeTransfers = Number(charges.rows[0]?.n ?? 0);
  return { intentsByStatus, succeededInDatabase, chargeTransfers, ok: succeededInDatabase >= acknowledged && chargeTransfers === succeededInDatabase };
}
