/**
 * The payment path's references, checked per statement by triggers (migration 0012) instead of
 * foreign keys: a transfer needs its accounts (and its pending transfer), an attempt its intent,
 * and what they refer to can never be removed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';

let database: TestDatabase;
let seq = 0;
const uid = (prefix: string) => `${prefix}_${Date.now().toString(36)}${(seq++).toString(36).padStart(4, '0')}`;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

const query = (text: string, values: unknown[] = []) => database.pool.query(text, values);

async function account(): Promise<string> {
  const id = uid('la');
  await query(`INSERT INTO ledger_accounts (id, merchant_id, livemode, currency, code) VALUES ($1, NULL, false, 'usd', $1)`, [id]);
  return id;
}

async function transfer(fields: { debit: string; credit: string; phase?: string; pendingId?: string | null }): Promise<string> {
  const id = uid('tr');
  await query(
    `INSERT INTO ledger_transfers (id, journal_id, merchant_id, livemode, debit_account_id, credit_account_id, amount, currency, code, phase, pending_id)
     VALUES ($1, $1, NULL, false, $2, $3, 100, 'usd', 'test', $4, $5)`,
    [id, fields.debit, fields.credit, fields.phase ?? 'single', fields.pendingId ?? null],
  );
  return id;
}

async function intent(): Promise<string> {
  const id = uid('pi');
  await query(
    `INSERT INTO payment_intents (id, merchant_id, livemode, amount, currency, status, capture_method, confirmation_method, payment_method_types, client_secret, expires_at)
     VALUES ($1, 'acct_refs', false, 100, 'usd', 'requires_payment_method', 'automatic', 'automatic', '{card}', $1, now() + interval '1 hour')`,
    [id],
  );
  return id;
}

async function attempt(intentId: string): Promise<void> {
  const id = uid('ch');
  await query(
    `INSERT INTO payment_attempts (id, merchant_id, livemode, payment_intent_id, payment_method_id, channel, channel_order_no, amount, currency, capture_method, status)
     VALUES ($1, 'acct_refs', false, $2, 'pm_x', 'sandbox_card', $1, 100, 'usd', 'automatic', 'processing')`,
    [id, intentId],
  );
}

describe('ledger transfer references', () => {
  it('accepts transfers between existing accounts, and a post of an existing pending transfer', async () => {
    const [a, b] = [await account(), await account()];
    const pending = await transfer({ debit: a, credit: b, phase: 'pending' });
    await expect(transfer({ debit: a, credit: b, phase: 'post', pendingId: pending })).resolves.toBeTypeOf('string');
  });

  it('refuses a transfer from or to an account that does not exist, as a foreign key would', async () => {
    const a = await account();
    await expect(transfer({ debit: a, credit: 'la_missing' })).rejects.toMatchObject({ code: '23503' });
    await expect(transfer({ debit: 'la_missing', credit: a })).rejects.toMatchObject({ code: '23503' });
  });

  it('refuses a post of a pending transfer that does not exist', async () => {
    const [a, b] = [await account(), await account()];
    await expect(transfer({ debit: a, credit: b, phase: 'post', pendingId: 'tr_missing' })).rejects.toMatchObject({ code: '23503' });
  });

  it('checks every row of a many-row statement and writes none of them when one is wrong', async () => {
    const [a, b] = [await account(), await account()];
    const before = (await query('SELECT count(*)::int AS n FROM ledger_transfers')).rows[0].n as number;
    await expect(
      query(
        `INSERT INTO ledger_transfers (id, journal_id, merchant_id, livemode, debit_account_id, credit_account_id, amount, currency, code, phase)
         SELECT 'tr_many_' || i, 'j', NULL, false, $1, CASE WHEN i = 37 THEN 'la_missing' ELSE $2 END, 1, 'usd', 'test', 'single' FROM generate_series(1, 50) AS i`,
        [a, b],
      ),
    ).rejects.toMatchObject({ code: '23503', message: expect.stringContaining('tr_many_37') });
    expect((await query('SELECT count(*)::int AS n FROM ledger_transfers')).rows[0].n).toBe(before);
  });

  it('never lets an account be deleted, re-keyed or truncated away', async () => {
    const a = await account();
    await expect(query('DELETE FROM ledger_accounts WHERE id = $1', [a])).rejects.toMatchObject({ code: '42501' });
    await expect(query(`UPDATE ledger_accounts SET id = 'la_other' WHERE id = $1`, [a])).rejects.toMatchObject({ code: '42501' });
    await expect(query('TRUNCATE ledger_accounts CASCADE')).rejects.toMatchObject({ code: '42501' });
    await expect(query(`UPDATE ledger_accounts SET debits_must_not_exceed_credits = true WHERE id = $1`, [a])).resolves.toMatchObject({ rowCount: 1 });
  });
});

describe('payment attempt references', () => {
  it('refuses an attempt for an intent that does not exist, and accepts one for an intent that does', async () => {
    await expect(attempt('pi_missing')).rejects.toMatchObject({ code: '23503' });
    await expect(attempt(await intent())).resolves.toBeUndefined();
  });

  it('never moves an attempt to another intent', async () => {
    const [first, second] = [await intent(), await intent()];
    await attempt(first);
    await expect(query('UPDATE payment_attempts SET payment_intent_id = $2 WHERE payment_intent_id = $1', [first, second])).rejects.toMatchObject({ code: '23503' });
  });

  it('never lets an intent be deleted, re-keyed or truncated away', async () => {
    const id = await intent();
    await expect(query('DELETE FROM payment_intents WHERE id = $1', [id])).rejects.toMatchObject({ code: '42501' });
    await expect(query(`UPDATE payment_intents SET id = 'pi_other' WHERE id = $1`, [id])).rejects.toMatchObject({ code: '42501' });
    await expect(query('TRUNCATE payment_intents CASCADE')).rejects.toMatchObject({ code: '42501' });
  });
});
