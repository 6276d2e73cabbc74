/**
 * The ledger auditor: a seeded random workload of payments, captures, cancels and refunds in three
 * currencies for three merchants, driven through the real API with the official stripe client, then
 * checked against an independent model written here from the operations' inputs and the documented
 * fee rule alone (fee = round half up of captured × 290 bps for sandbox_card, booked at capture, not
 * given back on refunds). Lanes (one per merchant and currency) run concurrently, so the writes share
 * batches; within a lane operations are sequential, so the model is exact.
 *
 * Set LEDGER_AUDIT_SEED to replay another workload; a failure names the seed it ran with.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripeError } from '../../test/support/stripe-error.ts';
import { environmentVariable } from '../config/index.ts';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../../test/support/fenpay.ts';
import { auditLedger, type LedgerAudit } from './index.ts';

const seed = Number(environmentVariable('LEDGER_AUDIT_SEED') ?? 20_260_729);
const operationsPerLane = 36;
const currencies = ['usd', 'jpy', 'kwd'] as const;
type Currency = (typeof currencies)[number];

/** The documented fee rule, written out independently of the kernel: 2.90 %, halves rounded up. */
function documentedFee(captured: bigint): bigint {
  const tenThousandths = captured * 290n;
  const whole = tenThousandths / 10_000n;
  const remainder = tenThousandths % 10_000n;
  return remainder * 2n >= 10_000n ? whole + 1n : whole;
}

/** mulberry32: small, seedable, good enough to pick operations. */
function prng(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Authorization {
  readonly id: string;
  readonly amount: bigint;
}
interface Captured {
  readonly id: string;
  readonly captured: bigint;
  refunded: bigint;
}

/** What the ledger must say about one merchant in one currency, from the operations alone. */
interface LaneModel {
  available: bigint;
  pending: bigint;
  fees: bigint;
  capturedTotal: bigint;
  refundedTotal: bigint;
  chargeBalanceTransactions: number;
  refundBalanceTransactions: number;
  readonly openAuthorizations: Authorization[];
  readonly captures: Captured[];
}

interface Lane {
  readonly merchant: TestMerchant;
  readonly merchantIndex: number;
  readonly currency: Currency;
  readonly model: LaneModel;
  readonly random: () => number;
}

const tally = {
  automatic: 0,
  declined: 0,
  authorized: 0,
  fullCaptures: 0,
  partialCaptures: 0,
  overCaptures: 0,
  cancels: 0,
  fullRefunds: 0,
  partialRefunds: 0,
  refundsRefusedForBalance: 0,
  refundsRefusedOverCaptured: 0,
  halfUpFees: 0,
};

let env: TestFenpay;
let merchants: TestMerchant[];
let lanes: Lane[];
let audit: LedgerAudit;

beforeAll(async () => {
  env = await startTestFenpay({ withoutJobQueue: true });
  merchants = [];
  for (const name of ['Teahouse', 'Bookshop', 'Ramen bar']) merchants.push(await env.createMerchant({ name }));
  const master = prng(seed);
  lanes = merchants.flatMap((merchant, merchantIndex) =>
    currencies.map((currency) => ({
      merchant,
      merchantIndex,
      currency,
      random: prng(Math.floor(master() * 2 ** 31)),
      model: {
        available: 0n,
        pending: 0n,
        fees: 0n,
        capturedTotal: 0n,
        refundedTotal: 0n,
        chargeBalanceTransactions: 0,
        refundBalanceTransactions: 0,
        openAuthorizations: [],
        captures: [],
      },
    })),
  );
  await Promise.all(lanes.map((lane) => runLane(lane)));
  audit = await auditLedger(env.database.db);
}, 120_000);

afterAll(async () => {
  await env?.close();
});

/** Amounts spread over orders of magnitude, with the half-way fee cases (…500 × 2.9 % = …14.5) mixed in. */
function pickAmount(lane: Lane): bigint {
  const r = lane.random();
  if (r < 0.1) return 500n;
  if (r < 0.15) return 1_500n;
  const magnitude = lane.currency === 'jpy' ? 10 ** (2 + Math.floor(lane.random() * 4)) : 10 ** (3 + Math.floor(lane.random() * 4));
  return BigInt(Math.max(50, Math.floor(lane.random() * magnitude)));
}

function pick<T>(lane: Lane, items: readonly T[]): T {
  return items[Math.floor(lane.random() * items.length)]!;
}


function bookCapture(model: LaneModel, id: string, captured: bigint): void {
  const fee = documentedFee(captured);
  if ((captured * 290n) % 10_000n === 5_000n) tally.halfUpFees += 1;
  model.available += captured - fee;
  model.fees += fee;
  model.capturedTotal += captured;
  model.chargeBalanceTransactions += 1;
  model.captures.push({ id, captured, refunded: 0n });
}

async function runLane(lane: Lane): Promise<void> {
  const { stripe } = lane.merchant;
  const { model, currency } = lane;
  for (let step = 0; step < operationsPerLane; step++) {
    const refundable = model.captures.filter((c) => c.refunded < c.captured);
    let r = step === 0 ? 0 : lane.random();
    if (r >= 0.5 && r < 0.7 && model.openAuthorizations.length === 0) r = 0.4;
    if (r >= 0.7 && refundable.length === 0) r = 0;
    const where = `seed ${seed}, merchant ${lane.merchantIndex}, ${currency}, step ${step}`;

    if (r < 0.3) {
      const amount = pickAmount(lane);
      const pi = await stripe.paymentIntents.create({ amount: Number(amount), currency, payment_method: pick(lane, ['pm_card_visa', 'pm_card_mastercard', 'pm_card_jcb', 'pm_card_unionpay']), confirm: true });
      expect(pi.status, where).toBe('succeeded');
      tally.automatic += 1;
      bookCapture(model, pi.id, amount);
    } else if (r < 0.35) {
      const error = await stripeError(stripe.paymentIntents.create({ amount: Number(pickAmount(lane)), currency, payment_method: 'pm_card_chargeDeclinedInsufficientFunds', confirm: true }));
      expect(error.code, where).toBe('card_declined');
      tally.declined += 1;
    } else if (r < 0.5) {
      const amount = pickAmount(lane);
      const pi = await stripe.paymentIntents.create({ amount: Number(amount), currency, payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
      expect(pi.status, where).toBe('requires_capture');
      tally.authorized += 1;
      model.pending += amount;
      model.openAuthorizations.push({ id: pi.id, amount });
    } else if (r < 0.62) {
      const auth = model.openAuthorizations.splice(Math.floor(lane.random() * model.openAuthorizations.length), 1)[0]!;
      if (lane.random() < 0.15) {
        const error = await stripeError(stripe.paymentIntents.capture(auth.id, { amount_to_capture: Number(auth.amount + 1n) }));
        expect(error.code, where).toBe('amount_to_capture_exceeds_capturable');
        tally.overCaptures += 1;
      }
      const partial = lane.random() < 0.5 && auth.amount > 1n;
      const amount = partial ? 1n + BigInt(Math.floor(lane.random() * Number(auth.amount - 1n))) : auth.amount;
      const pi = await stripe.paymentIntents.capture(auth.id, partial ? { amount_to_capture: Number(amount) } : {});
      expect(pi.status, where).toBe('succeeded');
      expect(pi.amount_received, where).toBe(Number(amount));
      if (amount < auth.amount) tally.partialCaptures += 1;
      else tally.fullCaptures += 1;
      model.pending -= auth.amount;
      bookCapture(model, auth.id, amount);
    } else if (r < 0.7) {
      const auth = model.openAuthorizations.splice(Math.floor(lane.random() * model.openAuthorizations.length), 1)[0]!;
      const pi = await stripe.paymentIntents.cancel(auth.id, { cancellation_reason: 'requested_by_customer' });
      expect(pi.status, where).toBe('canceled');
      tally.cancels += 1;
      model.pending -= auth.amount;
    } else {
      const payment = pick(lane, refundable);
      const remaining = payment.captured - payment.refunded;
      if (lane.random() < 0.1) {
        const error = await stripeError(stripe.refunds.create({ payment_intent: payment.id, amount: Number(remaining + 1n) }));
        expect(error.code, where).toBe('refund_exceeds_captured_amount');
        tally.refundsRefusedOverCaptured += 1;
        continue;
      }
      const full = lane.random() < 0.6 || remaining === 1n;
      const amount = full ? remaining : 1n + BigInt(Math.floor(lane.random() * Number(remaining - 1n)));
      if (amount > model.available) {
        const error = await stripeError(stripe.refunds.create({ payment_intent: payment.id, ...(full ? {} : { amount: Number(amount) }) }));
        expect(error.code, where).toBe('balance_insufficient');
        tally.refundsRefusedForBalance += 1;
        continue;
      }
      const refund = await stripe.refunds.create({ payment_intent: payment.id, ...(full ? {} : { amount: Number(amount) }) });
      expect(refund.status, where).toBe('succeeded');
      expect(refund.amount, where).toBe(Number(amount));
      if (full) tally.fullRefunds += 1;
      else tally.partialRefunds += 1;
      payment.refunded += amount;
      model.available -= amount;
      model.refundedTotal += amount;
      model.refundBalanceTransactions += 1;
    }
  }
}

function sum(values: Iterable<bigint>): bigint {
  let total = 0n;
  for (const v of values) total += v;
  return total;
}

describe(`the ledger after a random workload (seed ${seed})`, () => {
  it('covered every kind of operation the auditor is meant to check', () => {
    expect(tally.automatic + tally.authorized + tally.declined + tally.fullCaptures + tally.partialCaptures + tally.cancels + tally.fullRefunds + tally.partialRefunds + tally.refundsRefusedForBalance)
      .toBeGreaterThanOrEqual(300);
    for (const [kind, count] of Object.entries(tally)) expect(count, kind).toBeGreaterThanOrEqual(kind === 'overCaptures' || kind === 'refundsRefusedOverCaptured' ? 1 : 3);
  });

  it('balances: per currency and phase, debits equal credits', () => {
    expect(audit.totals.map((t) => t.currency).sort()).toEqual([...currencies].sort());
    for (const t of audit.totals) {
      expect(t.livemode).toBe(false);
      expect(t.debitsPosted, t.currency).toBe(t.creditsPosted);
      expect(t.debitsPending, t.currency).toBe(t.creditsPending);
      const ofCurrency = lanes.filter((l) => l.currency === t.currency).map((l) => l.model);
      // Every posted transfer is a charge or capture, a fee, or a refund; the only open holds are authorizations.
      expect(t.debitsPosted, t.currency).toBe(sum(ofCurrency.map((m) => m.capturedTotal + m.fees + m.refundedTotal)));
      expect(t.debitsPending, t.currency).toBe(sum(ofCurrency.map((m) => m.pending)));
    }
  });

  it('keeps every bucket equal to the transfers it sums, no non-negative account below zero, and only open authorizations pending', () => {
    expect(audit.bucketMismatches).toEqual([]);
    expect(audit.negativeAccounts).toEqual([]);
    expect(audit.openPendingTransfers).toBe(lanes.reduce((n, l) => n + l.model.openAuthorizations.length, 0));
  });

  it('holds exactly the balances the model expects in every account, platform accounts included', async () => {
    const rows = await sql<{ merchant_id: string | null; currency: string; code: string; dp: bigint; dP: bigint; cp: bigint; cP: bigint }>`
      SELECT a.merchant_id, a.currency, a.code,
             coalesce(sum(b.debits_pending), 0)::int8 AS dp, coalesce(sum(b.debits_posted), 0)::int8 AS "dP",
             coalesce(sum(b.credits_pending), 0)::int8 AS cp, coalesce(sum(b.credits_posted), 0)::int8 AS "cP"
        FROM ledger_accounts a LEFT JOIN ledger_account_buckets b ON b.account_id = a.id
       GROUP BY a.id, a.merchant_id, a.currency, a.code`.execute(env.database.db);
    const expected = new Map<string, { dp: bigint; dP: bigint; cp: bigint; cP: bigint }>();
    for (const lane of lanes) {
      const m = lane.model;
      // Merchant balance: credited by charges and captures, debited by fees and refunds; authorizations are pending credits.
      expected.set(`${lane.merchant.merchant.id}|${lane.currency}|merchant_balance`, { dp: 0n, dP: m.fees + m.refundedTotal, cp: m.pending, cP: m.capturedTotal });
    }
    for (const currency of currencies) {
      const ofCurrency = lanes.filter((l) => l.currency === currency).map((l) => l.model);
      expected.set(`*|${currency}|fee_income`, { dp: 0n, dP: 0n, cp: 0n, cP: sum(ofCurrency.map((m) => m.fees)) });
      expected.set(`*|${currency}|channel_clearing:sandbox_card`, {
        dp: sum(ofCurrency.map((m) => m.pending)),
        dP: sum(ofCurrency.map((m) => m.capturedTotal)),
        cp: 0n,
        cP: sum(ofCurrency.map((m) => m.refundedTotal)),
      });
    }
    const actual = new Map(rows.rows.map((r) => [`${r.merchant_id ?? '*'}|${r.currency}|${r.code}`, { dp: r.dp, dP: r.dP, cp: r.cp, cP: r.cP }]));
    expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected));
  });

  it('gives the model balances when the transfers themselves are replayed here, without buckets or auditLedger', async () => {
    const rows = await env.database.pool.query<{ id: string; debit: string; credit: string; amount: bigint; phase: string; pending_id: string | null; currency: string; merchant_id: string | null }>(
      `SELECT t.id, t.debit_account_id AS debit, t.credit_account_id AS credit, t.amount, t.phase, t.pending_id, t.currency, t.merchant_id FROM ledger_transfers t`,
    );
    const accounts = await env.database.pool.query<{ id: string; merchant_id: string | null; currency: string; code: string }>('SELECT id, merchant_id, currency, code FROM ledger_accounts');
    const byId = new Map(rows.rows.map((t) => [t.id, t]));
    const totals = new Map<string, { dp: bigint; dP: bigint; cp: bigint; cP: bigint }>();
    const at = (id: string) => totals.get(id) ?? (totals.set(id, { dp: 0n, dP: 0n, cp: 0n, cP: 0n }), totals.get(id)!);
    const resolved = new Set<string>();
    for (const t of rows.rows) {
      const debit = at(t.debit);
      const credit = at(t.credit);
      if (t.phase === 'single') {
        debit.dP += t.amount;
        credit.cP += t.amount;
      } else if (t.phase === 'pending') {
        debit.dp += t.amount;
        credit.cp += t.amount;
      } else {
        const pending = byId.get(t.pending_id!)!;
        expect(pending.phase).toBe('pending');
        expect([pending.debit, pending.credit, pending.currency]).toEqual([t.debit, t.credit, t.currency]);
        expect(resolved.has(pending.id), `${pending.id} resolved twice`).toBe(false);
        resolved.add(pending.id);
        debit.dp -= pending.amount;
        credit.cp -= pending.amount;
        if (t.phase === 'post') {
          expect(t.amount).toBeLessThanOrEqual(pending.amount);
          debit.dP += t.amount;
          credit.cP += t.amount;
        } else {
          expect(t.amount).toBe(pending.amount);
        }
      }
    }
    for (const lane of lanes) {
      const account = accounts.rows.find((a) => a.merchant_id === lane.merchant.merchant.id && a.currency === lane.currency && a.code === 'merchant_balance')!;
      const t = at(account.id);
      expect({ available: t.cP - t.dP - t.dp, pending: t.cp }, `${lane.merchantIndex} ${lane.currency}`).toEqual({ available: lane.model.available, pending: lane.model.pending });
    }
    for (const currency of currencies) {
      const feeAccount = accounts.rows.find((a) => a.merchant_id === null && a.currency === currency && a.code === 'fee_income')!;
      expect(at(feeAccount.id).cP, currency).toBe(sum(lanes.filter((l) => l.currency === currency).map((l) => l.model.fees)));
    }
  });

  it('reports the model balance on /v1/balance for every merchant and currency', async () => {
    for (const [index, merchant] of merchants.entries()) {
      const balance = await merchant.stripe.balance.retrieve();
      const own = lanes.filter((l) => l.merchantIndex === index);
      const asMap = (entries: { amount: number; currency: string }[]) => Object.fromEntries(entries.map((e) => [e.currency, e.amount]));
      expect(asMap(balance.available)).toEqual(Object.fromEntries(own.map((l) => [l.currency, Number(l.model.available)])));
      expect(asMap(balance.pending)).toEqual(Object.fromEntries(own.map((l) => [l.currency, Number(l.model.pending)])));
    }
  });

  it('lists balance transactions whose nets are amount minus fee and add up to the available balance', async () => {
    for (const [index, merchant] of merchants.entries()) {
      const transactions = await merchant.stripe.balanceTransactions.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 });
      for (const lane of lanes.filter((l) => l.merchantIndex === index)) {
        const own = transactions.filter((t) => t.currency === lane.currency);
        for (const t of own) {
          expect(t.net, t.id).toBe(t.amount - t.fee);
          if (t.type === 'refund') {
            expect(t.fee, t.id).toBe(0);
            expect(t.amount, t.id).toBeLessThan(0);
          } else {
            expect(t.type, t.id).toBe('charge');
            expect(t.fee, t.id).toBe(Number(documentedFee(BigInt(t.amount))));
          }
        }
        expect(own.filter((t) => t.type === 'charge')).toHaveLength(lane.model.chargeBalanceTransactions);
        expect(own.filter((t) => t.type === 'refund')).toHaveLength(lane.model.refundBalanceTransactions);
        expect(own.reduce((n, t) => n + t.net, 0), `${index} ${lane.currency}`).toBe(Number(lane.model.available));
        expect(own.reduce((n, t) => n + t.fee, 0), `${index} ${lane.currency}`).toBe(Number(lane.model.fees));
      }
      expect(new Set(transactions.map((t) => t.id)).size).toBe(transactions.length);
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE on ledger_transfers at the database', async () => {
    const pool = env.database.pool;
    const before = await pool.query<{ n: bigint; total: bigint }>('SELECT count(*)::int8 AS n, sum(amount)::int8 AS total FROM ledger_transfers');
    expect(before.rows[0]!.n).toBeGreaterThan(0n);
    await expect(pool.query('UPDATE ledger_transfers SET amount = amount + 1')).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/append-only/) });
    await expect(pool.query(`UPDATE ledger_transfers SET source_id = 'x' WHERE id = (SELECT id FROM ledger_transfers LIMIT 1)`)).rejects.toMatchObject({ code: '42501' });
    await expect(pool.query('DELETE FROM ledger_transfers WHERE id = (SELECT id FROM ledger_transfers LIMIT 1)')).rejects.toMatchObject({ code: '42501' });
    await expect(pool.query('TRUNCATE ledger_transfers CASCADE')).rejects.toMatchObject({ code: '42501' });
    const after = await pool.query<{ n: bigint; total: bigint }>('SELECT count(*)::int8 AS n, sum(amount)::int8 AS total FROM ledger_transfers');
    expect(after.rows[0]).toEqual(before.rows[0]);
  });
});
