/**
 * Group commit on a real PostgreSQL: what a batch promises to each unit in it. Units go into one
 * batch deterministically by giving the batcher one slot and occupying it with an empty opener unit:
 * everything submitted in the same tick then waits and travels together.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { WriteBatcher, type Row, type WriteResult, type WriteSet } from './index.ts';

let database: TestDatabase;
const merchantId = 'acct_batchertest';
let seq = 0;
const uid = (prefix: string) => `${prefix}_${Date.now().toString(36)}${(seq++).toString(36).padStart(4, '0')}`;

beforeAll(async () => {
  database = await createTestDatabase({ poolSize: 12 });
  await database.pool.query(`INSERT INTO merchants (id, name) VALUES ($1, 'Batcher test')`, [merchantId]);
});

afterAll(async () => {
  await database?.drop();
});

interface Recorded {
  readonly batcher: WriteBatcher;
  readonly sizes: number[];
}

function newBatcher(options: { concurrency?: number; pool?: pg.Pool } = {}): Recorded {
  const sizes: number[] = [];
  const batcher = new WriteBatcher({ pool: options.pool ?? database.pool, concurrency: options.concurrency ?? 1, onBatch: (size) => sizes.push(size) });
  return { batcher, sizes };
}

/** Submits `units` so that they are all in one batch (the batcher must have concurrency 1). */
async function oneBatch(batcher: WriteBatcher, units: readonly WriteSet[]): Promise<PromiseSettledResult<WriteResult>[]> {
  const opener = batcher.submit({});
  const results = units.map((unit) => batcher.submit(unit));
  await opener;
  return await Promise.allSettled(results);
}

function value(result: PromiseSettledResult<WriteResult> | undefined): WriteResult {
  if (result === undefined) throw new Error('no result');
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

function customerRow(id: string, fields: Row = {}): { table: 'customers'; row: Row } {
  return { table: 'customers', row: { id, merchant_id: merchantId, livemode: false, metadata: {}, ...fields } };
}

async function insertCustomers(ids: readonly string[]): Promise<void> {
  await database.pool.query(
    `INSERT INTO customers (id, merchant_id, livemode, name) SELECT id, $2, false, 'original' FROM unnest($1::text[]) AS u(id)`,
    [ids, merchantId],
  );
}

async function customers(ids: readonly string[]): Promise<Map<string, { name: string | null; description: string | null; version: number; xmin: string }>> {
  const result = await database.pool.query<{ id: string; name: string | null; description: string | null; version: number; xmin: string }>(
    'SELECT id, name, description, version, xmin::text AS xmin FROM customers WHERE id = ANY($1::text[])',
    [ids],
  );
  return new Map(result.rows.map((r) => [r.id, r]));
}

/** A unit that renames a customer it read at `version`. */
function rename(id: string, version: number, name: string): WriteSet {
  return {
    guards: [{ table: 'customers', id, version }],
    updates: [{ table: 'customers', key: { id }, set: { name, version: version + 1 } }],
  };
}

function paymentIntentRow(id: string, amount: bigint): { table: 'payment_intents'; row: Row } {
  return {
    table: 'payment_intents',
    row: {
      id,
      merchant_id: merchantId,
      livemode: false,
      amount,
      currency: 'usd',
      status: 'requires_payment_method',
      capture_method: 'automatic',
      confirmation_method: 'automatic',
      payment_method_types: ['card'],
      metadata: {},
      client_secret: `${id}_secret_x`,
      expires_at: new Date(Date.now() + 3_600_000),
    },
  };
}

function idempotencyClaim(key: string): NonNullable<WriteSet['claims']>[number] {
  return {
    table: 'idempotency_keys',
    conflictColumns: ['merchant_id', 'livemode', 'key'],
    row: { merchant_id: merchantId, livemode: false, key, request_method: 'POST', request_path: '/v1/customers', request_hash: 'h', locked_at: new Date(), resource_id: null },
  };
}

async function newAccount(options: { creditsPosted: bigint; bucket?: number }): Promise<string> {
  const id = uid('la');
  await database.pool.query(
    `INSERT INTO ledger_accounts (id, merchant_id, livemode, currency, code, debits_must_not_exceed_credits) VALUES ($1, $2, false, 'usd', $3, true)`,
    [id, merchantId, `merchant_balance:${id}`],
  );
  if (options.creditsPosted > 0n) {
    await database.pool.query('INSERT INTO ledger_account_buckets (account_id, bucket, credits_posted) VALUES ($1, $2, $3)', [id, options.bucket ?? 0, options.creditsPosted.toString()]);
  }
  return id;
}

function debit(accountId: string, amount: bigint, phase: 'posted' | 'pending' = 'posted'): WriteSet {
  return {
    balanceDeltas: [
      { accountId, merchantId: null, debitsPending: phase === 'pending' ? amount : 0n, debitsPosted: phase === 'posted' ? amount : 0n, creditsPending: 0n, creditsPosted: 0n, nonNegative: true },
    ],
  };
}

async function balanceOf(accountId: string): Promise<{ available: bigint; debitsPending: bigint }> {
  const result = await database.pool.query<{ available: bigint; dp: bigint }>(
    `SELECT coalesce(sum(credits_posted - debits_posted - debits_pending), 0)::int8 AS available, coalesce(sum(debits_pending), 0)::int8 AS dp
       FROM ledger_account_buckets WHERE account_id = $1`,
    [accountId],
  );
  return { available: result.rows[0]!.available, debitsPending: result.rows[0]!.dp };
}

describe('group commit', () => {
  it('commits many units submitted together in one database transaction, each told ok', async () => {
    const { batcher, sizes } = newBatcher();
    const ids = Array.from({ length: 60 }, () => uid('cus'));
    const results = await oneBatch(batcher, ids.map((id) => ({ inserts: [customerRow(id, { name: 'grouped' })] })));
    expect(results.map(value)).toEqual(ids.map(() => ({ ok: true })));
    expect(sizes).toContain(60);
    const rows = await customers(ids);
    expect(rows.size).toBe(60);
    // Rows written by one transaction share its transaction id.
    expect(new Set([...rows.values()].map((r) => r.xmin)).size).toBe(1);
  });

  it('keeps committing in batches larger than one while units keep arriving', async () => {
    const { batcher, sizes } = newBatcher({ concurrency: 2 });
    const ids = Array.from({ length: 300 }, () => uid('cus'));
    const results = await Promise.all(ids.map((id) => batcher.submit({ inserts: [customerRow(id)] })));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(300);
    expect(sizes.length).toBeLessThan(20);
    expect((await customers(ids)).size).toBe(300);
  });

  it('refuses a write set that claims two keys before touching the database', async () => {
    const { batcher } = newBatcher();
    await expect(batcher.submit({ claims: [idempotencyClaim(uid('k')), idempotencyClaim(uid('k'))] })).rejects.toThrow(/at most one key/);
  });

  it('drain resolves only after every submitted unit has committed', async () => {
    const { batcher } = newBatcher();
    const ids = Array.from({ length: 20 }, () => uid('cus'));
    for (const id of ids) void batcher.submit({ inserts: [customerRow(id)] });
    await batcher.drain();
    expect((await customers(ids)).size).toBe(20);
  });
});

describe('version guards', () => {
  it('fails only the unit whose guard lost; the rest of the batch commits', async () => {
    const { batcher } = newBatcher();
    const [a, b, c] = [uid('cus'), uid('cus'), uid('cus')];
    await insertCustomers([a, b, c]);
    const fresh = uid('cus');
    const results = await oneBatch(batcher, [rename(a, 1, 'a2'), rename(b, 7, 'stale'), rename(c, 1, 'c2'), { inserts: [customerRow(fresh)] }]);
    expect(results.map(value)).toEqual([{ ok: true }, { ok: false, reason: 'version_conflict', table: 'customers', id: b }, { ok: true }, { ok: true }]);
    const rows = await customers([a, b, c, fresh]);
    expect(rows.get(a)).toMatchObject({ name: 'a2', version: 2 });
    expect(rows.get(b)).toMatchObject({ name: 'original', version: 1 });
    expect(rows.get(c)).toMatchObject({ name: 'c2', version: 2 });
    expect(rows.has(fresh)).toBe(true);
  });

  it('lets exactly one of two units that read the same row version in one batch apply', async () => {
    const { batcher } = newBatcher();
    const id = uid('cus');
    await insertCustomers([id]);
    const results = await oneBatch(batcher, [rename(id, 1, 'first'), rename(id, 1, 'second')]);
    expect(results.map(value)).toEqual([{ ok: true }, { ok: false, reason: 'version_conflict', table: 'customers', id }]);
    expect((await customers([id])).get(id)).toMatchObject({ name: 'first', version: 2 });
  });

  it('writes nothing of a unit that lost a guard, not even its other rows', async () => {
    const { batcher } = newBatcher();
    const [guarded, other] = [uid('cus'), uid('cus')];
    await insertCustomers([guarded]);
    const results = await oneBatch(batcher, [{ ...rename(guarded, 3, 'x'), inserts: [customerRow(other)] }]);
    expect(value(results[0]).ok).toBe(false);
    expect((await customers([other])).size).toBe(0);
  });

  it('lets exactly one of many concurrent batches (two batchers, as two processes) apply to one row version', async () => {
    const one = newBatcher({ concurrency: 2 });
    const two = newBatcher({ concurrency: 2 });
    const id = uid('cus');
    await insertCustomers([id]);
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? one : two).batcher.submit(rename(id, 1, `writer${i}`))));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const winner = results.findIndex((r) => r.ok);
    expect((await customers([id])).get(id)).toMatchObject({ name: `writer${winner}`, version: 2 });
  });
});

describe('idempotency claims', () => {
  it('gives a key to the first of two units in one batch and applies nothing of the second', async () => {
    const { batcher } = newBatcher();
    const key = uid('key');
    const [first, second] = [uid('cus'), uid('cus')];
    const results = await oneBatch(batcher, [
      { claims: [idempotencyClaim(key)], inserts: [customerRow(first)] },
      { claims: [idempotencyClaim(key)], inserts: [customerRow(second)] },
    ]);
    expect(results.map(value)).toEqual([{ ok: true }, { ok: false, reason: 'claim_taken' }]);
    const rows = await customers([first, second]);
    expect([...rows.keys()]).toEqual([first]);
  });

  it('refuses a claim on a key an earlier batch already holds', async () => {
    const { batcher } = newBatcher();
    const key = uid('key');
    expect(await batcher.submit({ claims: [idempotencyClaim(key)] })).toEqual({ ok: true });
    const late = uid('cus');
    expect(await batcher.submit({ claims: [idempotencyClaim(key)], inserts: [customerRow(late)] })).toEqual({ ok: false, reason: 'claim_taken' });
    expect((await customers([late])).size).toBe(0);
  });

  it('gives each key to exactly one of many concurrent claimants across two batchers', async () => {
    const one = newBatcher({ concurrency: 2 });
    const two = newBatcher({ concurrency: 2 });
    const keys = Array.from({ length: 5 }, () => uid('key'));
    const attempts = keys.flatMap((key) => Array.from({ length: 8 }, (_, i) => ({ key, id: uid('cus'), via: i % 2 === 0 ? one : two })));
    const results = await Promise.all(attempts.map((a) => a.via.batcher.submit({ claims: [idempotencyClaim(a.key)], inserts: [customerRow(a.id)] })));
    for (const key of keys) {
      const won = attempts.filter((a, i) => a.key === key && results[i]!.ok);
      expect(won).toHaveLength(1);
    }
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'claim_taken')).toBe(true);
    const rows = await customers(attempts.map((a) => a.id));
    expect(rows.size).toBe(keys.length);
  });

  it('does not keep the claim of a unit that lost a guard, so a retry can take the key', async () => {
    const { batcher } = newBatcher();
    const key = uid('key');
    const id = uid('cus');
    await insertCustomers([id]);
    expect(await batcher.submit({ ...rename(id, 5, 'stale'), claims: [idempotencyClaim(key)] })).toMatchObject({ ok: false, reason: 'version_conflict' });
    const stored = await database.pool.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [key]);
    expect(stored.rowCount).toBe(0);
    expect(await batcher.submit({ ...rename(id, 1, 'retried'), claims: [idempotencyClaim(key)] })).toEqual({ ok: true });
  });
});

describe('a unit that throws', () => {
  it('is failed alone (a CHECK violation) while every other unit of its batch commits', async () => {
    const { batcher } = newBatcher();
    const guarded = uid('cus');
    await insertCustomers([guarded]);
    const good = [uid('pi'), uid('pi')];
    const bad = uid('pi');
    const key = uid('key');
    const results = await oneBatch(batcher, [
      { inserts: [paymentIntentRow(good[0]!, 100n)] },
      { inserts: [paymentIntentRow(bad, 0n)] },
      { ...rename(guarded, 1, 'survivor'), claims: [idempotencyClaim(key)] },
      { inserts: [paymentIntentRow(good[1]!, 200n)] },
      // Lost its guard in the combined batch; must still lose when units are retried one by one.
      rename(guarded, 1, 'second'),
    ]);
    expect(results[1]!.status).toBe('rejected');
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23514' });
    expect([0, 2, 3].map((i) => value(results[i]))).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(value(results[4])).toMatchObject({ ok: false, reason: 'version_conflict' });
    const intents = await database.pool.query<{ id: string }>('SELECT id FROM payment_intents WHERE id = ANY($1::text[]) ORDER BY amount', [[...good, bad]]);
    expect(intents.rows.map((r) => r.id)).toEqual(good);
    expect((await customers([guarded])).get(guarded)).toMatchObject({ name: 'survivor', version: 2 });
    expect((await database.pool.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [key])).rowCount).toBe(1);
  });

  it('is failed alone when it breaks a foreign key, even when it is the only unit', async () => {
    const { batcher } = newBatcher();
    await expect(batcher.submit({ inserts: [{ table: 'customers', row: { id: uid('cus'), merchant_id: 'acct_nobody', livemode: false, metadata: {} } }] })).rejects.toMatchObject({ code: '23503' });
    expect(await batcher.submit({ inserts: [customerRow(uid('cus'))] })).toEqual({ ok: true });
  });
});

describe('the non-negative balance check', () => {
  it('refuses exactly the units that would overdraw, in submission order, counting pending debits', async () => {
    const { batcher } = newBatcher();
    const account = await newAccount({ creditsPosted: 1_000n });
    const other = await newAccount({ creditsPosted: 50n });
    const unrelated = uid('cus');
    const results = await oneBatch(batcher, [
      debit(account, 400n),
      debit(account, 400n, 'pending'),
      { inserts: [customerRow(unrelated)] },
      debit(account, 300n),
      debit(other, 50n),
      debit(account, 200n, 'pending'),
      debit(account, 1n),
    ]);
    expect(results.map(value)).toEqual([
      { ok: true },
      { ok: true },
      { ok: true },
      { ok: false, reason: 'balance_insufficient', accountId: account },
      { ok: true },
      { ok: true },
      { ok: false, reason: 'balance_insufficient', accountId: account },
    ]);
    expect(await balanceOf(account)).toEqual({ available: 0n, debitsPending: 600n });
    expect(await balanceOf(other)).toEqual({ available: 0n, debitsPending: 0n });
    expect((await customers([unrelated])).size).toBe(1);
  });

  it('refuses a pending debit larger than the balance even with nothing else in the batch', async () => {
    const { batcher } = newBatcher();
    const account = await newAccount({ creditsPosted: 99n });
    expect(await batcher.submit(debit(account, 100n, 'pending'))).toEqual({ ok: false, reason: 'balance_insufficient', accountId: account });
    expect(await balanceOf(account)).toEqual({ available: 99n, debitsPending: 0n });
  });

  it('accepts a unit whose own credit covers its debit (a charge with its fee)', async () => {
    const { batcher } = newBatcher();
    const account = await newAccount({ creditsPosted: 0n });
    const chargeWithFee: WriteSet = {
      balanceDeltas: [
        { accountId: account, merchantId: null, debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 1_000n, nonNegative: true },
        { accountId: account, merchantId: null, debitsPending: 0n, debitsPosted: 29n, creditsPending: 0n, creditsPosted: 0n, nonNegative: true },
      ],
    };
    expect(await batcher.submit(chargeWithFee)).toEqual({ ok: true });
    expect(await balanceOf(account)).toEqual({ available: 971n, debitsPending: 0n });
  });

  it('never lets two concurrent batches both spend the same balance', async () => {
    // Two batchers with two slots each: up to four transactions debit one account at the same time,
    // each in its own bucket, some of which do not exist yet.
    const one = newBatcher({ concurrency: 2 });
    const two = newBatcher({ concurrency: 2 });
    for (let trial = 0; trial < 12; trial++) {
      const account = await newAccount({ creditsPosted: 1_000n, bucket: trial % 8 });
      const results = await Promise.all([
        one.batcher.submit(debit(account, 1_000n)),
        two.batcher.submit(debit(account, 1_000n, 'pending')),
        one.batcher.submit(debit(account, 1_000n)),
        two.batcher.submit(debit(account, 1_000n)),
      ]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect((await balanceOf(account)).available).toBe(0n);
    }
  });
});

describe('one hot merchant account', () => {
  it('takes concurrent batches from two batchers without a deadlock or a failed unit', async () => {
    // Every charge credits the merchant and debits its fee, so every batch locks the merchant's buckets.
    // Deadlocks are detected after 50 ms here, so a lock-order problem shows up as counted deadlocks (and
    // units failing after five in a row) instead of one-second stalls.
    const { pool, deadlocks } = observedPool({ deadlockTimeoutMs: 50 });
    try {
      const merchant = await newAccount({ creditsPosted: 0n });
      await database.pool.query(
        `INSERT INTO ledger_account_buckets (account_id, bucket, credits_posted) SELECT $1, b, 1 FROM generate_series(0, 7) AS b
           ON CONFLICT (account_id, bucket) DO UPDATE SET credits_posted = ledger_account_buckets.credits_posted + 1`,
        [merchant],
      );
      const fees = uid('la');
      await database.pool.query(`INSERT INTO ledger_accounts (id, merchant_id, livemode, currency, code) VALUES ($1, NULL, false, 'usd', $2)`, [fees, `fee_income:${fees}`]);
      const one = new WriteBatcher({ pool, concurrency: 2 });
      const two = new WriteBatcher({ pool, concurrency: 2 });
      const submitted: Promise<WriteResult>[] = [];
      for (let i = 0; i < 1_500; i++) {
        submitted.push(
          (i % 2 === 0 ? one : two).submit({
            balanceDeltas: [
              { accountId: merchant, merchantId: null, debitsPending: 0n, debitsPosted: 29n, creditsPending: 0n, creditsPosted: 1_000n, nonNegative: true },
              { accountId: fees, merchantId: null, debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 29n, nonNegative: false },
            ],
          }),
        );
        if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const results = await Promise.allSettled(submitted);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(deadlocks()).toBe(0);
      expect((await balanceOf(merchant)).available).toBe(8n + 1_500n * 971n);
    } finally {
      await pool.end();
    }
  });
});

describe('transient failures', () => {
  it('retries a batch that PostgreSQL aborted to break a deadlock, and the unit commits', async () => {
    // The batcher's sessions detect deadlocks after 300 ms, the other session only after 10 s, so the
    // batcher's transaction is the one PostgreSQL aborts.
    const pool = new pg.Pool({ connectionString: database.url, max: 2, options: '-c deadlock_timeout=300' });
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    try {
      const { batcher } = newBatcher({ pool });
      const [r1, r2] = [uid('cus'), uid('cus')];
      await insertCustomers([r1, r2]);
      await other.query("SET deadlock_timeout = '10s'");
      await other.query('BEGIN');
      await other.query(`UPDATE customers SET name = 'other' WHERE id = $1`, [r2]);
      // Locks r1 (its guard), then waits for r2, which `other` holds.
      const pending = batcher.submit({
        guards: [{ table: 'customers', id: r1, version: 1 }],
        updates: [
          { table: 'customers', key: { id: r1 }, set: { description: 'batch', version: 2 } },
          { table: 'customers', key: { id: r2 }, set: { description: 'batch' } },
        ],
      });
      let settled = false;
      void pending.finally(() => (settled = true));
      await waitUntil(async () => {
        const waiting = await database.pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
        return waiting.rowCount === 1;
      });
      // Now `other` waits for r1: a cycle. PostgreSQL must abort the batcher's transaction for this to return.
      await other.query(`UPDATE customers SET name = 'other' WHERE id = $1`, [r1]);
      expect(settled).toBe(false);
      await other.query('COMMIT');
      expect(await pending).toEqual({ ok: true });
      const rows = await customers([r1, r2]);
      expect(rows.get(r1)).toMatchObject({ name: 'other', description: 'batch', version: 2 });
      expect(rows.get(r2)).toMatchObject({ name: 'other', description: 'batch' });
    } finally {
      await other.end();
      await pool.end();
    }
  });
});

/** A pool whose sessions detect deadlocks after `deadlockTimeoutMs`, counting the deadlock errors its queries get. */
function observedPool(options: { deadlockTimeoutMs: number }): { pool: pg.Pool; deadlocks: () => number } {
  const pool = new pg.Pool({ connectionString: database.url, max: 6, options: `-c deadlock_timeout=${options.deadlockTimeoutMs}` });
  let deadlocks = 0;
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const result = query(...args);
      if (result instanceof Promise) {
        result.catch((error: unknown) => {
          if ((error as { code?: string }).code === '40P01') deadlocks += 1;
        });
      }
      return result;
    };
  });
  return { pool, deadlocks: () => deadlocks };
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a batch that fails', () => {
  it('in its open transaction is rolled back before its connection goes back to the pool', async () => {
    // One connection only: whatever the failed batch leaves on it, the next batch gets.
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    try {
      const { batcher } = newBatcher({ pool });
      const [id] = [uid('cus')];
      await insertCustomers([id]);
      // Two units guarding one row send the batch down the two-trip path (BEGIN … COMMIT over two
      // messages); a third unit's foreign key breaks in the second, with the transaction open.
      const results = await oneBatch(batcher, [
        rename(id, 1, 'first'),
        rename(id, 1, 'second'),
        { inserts: [{ table: 'customers', row: { id: uid('cus'), merchant_id: 'acct_nobody', livemode: false, metadata: {} } }] },
      ]);
      expect(value(results[0])).toEqual({ ok: true });
      expect(value(results[1])).toMatchObject({ ok: false, reason: 'version_conflict' });
      expect(results[2]).toMatchObject({ status: 'rejected', reason: { code: '23503' } });
      expect((await customers([id])).get(id)).toMatchObject({ name: 'first', version: 2 });
      const state = await pool.query<{ in_transaction: boolean }>(`SELECT now() <> statement_timestamp() AS in_transaction`);
      expect(state.rows[0]!.in_transaction).toBe(false);
    } finally {
      await pool.end();
    }
  });
});

describe('round trips', () => {
  /**
   * A pool whose connections record what they send: each message is the statements bound in it (by
   * text) up to its Sync; a message that only prepares statements is recorded as `prepare`.
   */
  function recordingPool(): { pool: pg.Pool; messages: { kind: 'run' | 'prepare'; statements: string[] }[] } {
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    const messages: { kind: 'run' | 'prepare'; statements: string[] }[] = [];
    pool.on('connect', (client) => {
      const stream = (client as unknown as { connection: { stream: { write: (chunk: unknown, ...rest: unknown[]) => boolean } } }).connection.stream;
      const texts = new Map<string, string>();
      let current: { parsed: string[]; bound: string[] } = { parsed: [], bound: [] };
      const write = stream.write.bind(stream);
      stream.write = (chunk: unknown, ...rest: unknown[]) => {
        // Walk the frontend messages: type byte, int32 length (itself included), body.
        const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.alloc(0);
        const cstring = (at: number) => buffer.toString('utf8', at, buffer.indexOf(0, at));
        for (let at = 0; at + 5 <= buffer.length; at += 1 + buffer.readInt32BE(at + 1)) {
          const type = String.fromCharCode(buffer[at]!);
          if (type === 'P') {
            const name = cstring(at + 5);
            const text = cstring(at + 5 + Buffer.byteLength(name) + 1);
            texts.set(name, text);
            current.parsed.push(text);
          } else if (type === 'B') {
            current.bound.push(texts.get(cstring(at + 6)) ?? '?'); // after the unnamed portal's NUL
          } else if (type === 'S') {
            // A connection's first message sets up its session and prepares statements: not a batch.
            const setUp = current.bound.every((text) => text.startsWith('SELECT set_config('));
            messages.push(setUp ? { kind: 'prepare', statements: current.parsed } : { kind: 'run', statements: current.bound });
            current = { parsed: [], bound: [] };
          }
        }
        return write(chunk, ...rest);
      };
    });
    return { pool, messages };
  }
  const firstWord = (text: string) => text.split(/\s/, 1)[0];

  it('sends a batch whose guards and claims all hold as one message, and a batch with a loss in three with the same answers', async () => {
    const { pool, messages } = recordingPool();
    try {
      const { batcher } = newBatcher({ pool });
      const [a, b, c] = [uid('cus'), uid('cus'), uid('cus')];
      await insertCustomers([a, b, c]);
      const held = await batcher.submit({ ...rename(a, 1, 'a2'), claims: [idempotencyClaim(uid('key'))], inserts: [customerRow(uid('cus'))] });
      expect(held).toEqual({ ok: true });
      // The first use of each statement shape on a connection prepares it, once.
      expect(messages.map((m) => m.kind)).toEqual(['prepare', 'run']);
      expect(messages[1]!.statements.map(firstWord)).toEqual(['SELECT', 'WITH', 'INSERT', 'UPDATE']);
      expect(messages[1]!.statements[0]).toMatch(/FOR UPDATE OF t/);

      messages.length = 0;
      const again = await batcher.submit({ ...rename(b, 1, 'b2'), claims: [idempotencyClaim(uid('key'))], inserts: [customerRow(uid('cus'))] });
      expect(again).toEqual({ ok: true });
      expect(messages.map((m) => m.kind)).toEqual(['run']);

      messages.length = 0;
      const key = uid('key');
      const results = await oneBatch(batcher, [rename(b, 2, 'b3'), { ...rename(c, 5, 'stale'), claims: [idempotencyClaim(key)] }]);
      expect(results.map(value)).toEqual([{ ok: true }, { ok: false, reason: 'version_conflict', table: 'customers', id: c }]);
      // The one-trip attempt (rolled back by its own failure at the Sync), then the two trips: locks
      // and claims in an open transaction, then the lost claim given back, the writes and COMMIT.
      const runs = messages.filter((m) => m.kind === 'run').map((m) => m.statements.map(firstWord));
      expect(runs).toEqual([
        ['SELECT', 'WITH', 'UPDATE'],
        ['BEGIN', 'SELECT', 'INSERT'],
        ['DELETE', 'UPDATE', 'COMMIT'],
      ]);
      const rows = await customers([a, b, c]);
      expect(rows.get(a)).toMatchObject({ name: 'a2', version: 2 });
      expect(rows.get(b)).toMatchObject({ name: 'b3', version: 3 });
      expect(rows.get(c)).toMatchObject({ name: 'original', version: 1 });
      // The losing unit's claim was given back: the key is free for its retry.
      expect(await batcher.submit({ claims: [idempotencyClaim(key)] })).toEqual({ ok: true });
    } finally {
      await pool.end();
    }
  });
});
