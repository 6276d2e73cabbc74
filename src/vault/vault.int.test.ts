import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { WriteBatcher } from '../db/index.ts';
import { AppError, AssertionError, newId, Secret } from '../kernel/index.ts';
import { createVault, VaultIntegrityError, type SealedCard, type Vault } from './index.ts';

const visa = '4242424242424242';
const mastercard = '5555555555554444';

let database: TestDatabase;
let batcher: WriteBatcher;
let merchantA: string;
let merchantB: string;

const k1 = new Secret(randomBytes(32));
const k2 = new Secret(randomBytes(32));
const vault = createVault({ keys: new Map([['k1', k1]]), activeKeyId: 'k1' });

async function store(sealed: SealedCard): Promise<void> {
  // The way the flows write it: as a plain row inside a WriteSet.
  const result = await batcher.submit({ inserts: [{ table: 'vault_cards', row: sealed.row }] });
  expect(result.ok).toBe(true);
}

async function sealAndStore(v: Vault, merchantId: string, number: string): Promise<SealedCard> {
  const sealed = v.seal({ merchantId, number: new Secret(number) });
  await store(sealed);
  return sealed;
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  database = await createTestDatabase({ poolSize: 5 });
  batcher = new WriteBatcher({ pool: database.writePool });
  merchantA = newId('merchant');
  merchantB = newId('merchant');
  await database.db
    .insertInto('merchants')
    .values([
      { id: merchantA, name: 'A', settings: '{}' },
      { id: merchantB, name: 'B', settings: '{}' },
    ])
    .execute();
});

afterAll(async () => {
  await batcher?.drain();
  await database?.drop();
});

describe('seal and open', () => {
  it('returns the card number it sealed, for the merchant that sealed it', async () => {
    const sealed = await sealAndStore(vault, merchantA, visa);
    expect(sealed.token).toMatch(/^vt_[0-9A-Za-z]{24}$/);
    const opened = await vault.open(database.db, { merchantId: merchantA, token: sealed.token });
    expect(opened).toBeInstanceOf(Secret);
    expect(opened.reveal()).toBe(visa);
  });

  it('stores the digits without the spaces and dashes they were typed with', async () => {
    const sealed = await sealAndStore(vault, merchantA, '5555-5555 5555-4444');
    expect((await vault.open(database.db, { merchantId: merchantA, token: sealed.token })).reveal()).toBe(mastercard);
  });

  it('gives a row with exactly the columns of vault_cards, holding ciphertext only', async () => {
    const sealed = vault.seal({ merchantId: merchantA, number: new Secret(visa) });
    const columns = await database.db
      .selectFrom('information_schema.columns' as never)
      .select('column_name' as never)
      .where('table_name' as never, '=', 'vault_cards' as never)
      .execute();
    const tableColumns = columns.map((c) => (c as { column_name: string }).column_name).filter((c) => c !== 'created_at');
    expect(Object.keys(sealed.row).sort()).toEqual(tableColumns.sort());
    expect(sealed.row.key_id).toBe('k1');
    expect((sealed.row.iv as Buffer).length).toBe(12);
    expect((sealed.row.data_key_iv as Buffer).length).toBe(12);
    expect((sealed.row.auth_tag as Buffer).length).toBe(16);
    for (const value of Object.values(sealed.row)) {
      if (Buffer.isBuffer(value)) {
        expect(value.includes(Buffer.from(visa))).toBe(false);
        expect(value.includes(Buffer.from(visa.slice(-8)))).toBe(false);
      }
    }
  });

  it('uses a fresh IV and data key for every card, so equal numbers give unrelated ciphertexts', () => {
    const a = vault.seal({ merchantId: merchantA, number: new Secret(visa) });
    const b = vault.seal({ merchantId: merchantA, number: new Secret(visa) });
    expect(a.token).not.toBe(b.token);
    expect(Buffer.compare(a.row.iv as Buffer, b.row.iv as Buffer)).not.toBe(0);
    expect(Buffer.compare(a.row.ciphertext as Buffer, b.row.ciphertext as Buffer)).not.toBe(0);
    expect(Buffer.compare(a.row.data_key_wrapped as Buffer, b.row.data_key_wrapped as Buffer)).not.toBe(0);
  });

  it('refuses something that is not a card number, without echoing it', () => {
    let thrown: unknown;
    try {
      vault.seal({ merchantId: merchantA, number: new Secret('4242 4242 4242 424x') });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect((thrown as AppError).code).toBe('incorrect_number');
    expect(JSON.stringify((thrown as AppError).toPublic(undefined))).not.toContain('4242');
  });

  it('keeps the card number out of everything it returns except the Secret', async () => {
    const sealed = await sealAndStore(vault, merchantA, visa);
    const printed = [JSON.stringify(sealed, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), inspect(sealed, { depth: 10 }), String(sealed.row.ciphertext)];
    for (const text of printed) {
      expect(text).not.toContain(visa);
      expect(text).not.toContain('4242 4242');
    }
    const opened = await vault.open(database.db, { merchantId: merchantA, token: sealed.token });
    expect(JSON.stringify({ opened })).not.toContain(visa);
    expect(inspect(opened)).not.toContain(visa);
    expect(String(opened)).not.toContain(visa);
  });
});

describe('published test cards (pm_card_*)', () => {
  it('seals one row per merchant and number, stored once however often it is written', async () => {
    const first = vault.sealTestCard({ merchantId: merchantA, number: new Secret(visa) });
    const again = vault.sealTestCard({ merchantId: merchantA, number: new Secret(visa) });
    expect(again.token).toBe(first.token);
    expect(first.token).toMatch(/^vt_[0-9A-Za-z]{24}$/);
    expect(vault.sealTestCard({ merchantId: merchantB, number: new Secret(visa) }).token).not.toBe(first.token);
    expect(vault.sealTestCard({ merchantId: merchantA, number: new Secret(mastercard) }).token).not.toBe(first.token);
    // Another process (a fresh vault with the same keys) derives the same token: its row is the same row.
    const otherProcess = createVault({ keys: new Map([['k1', k1]]), activeKeyId: 'k1' });
    expect(otherProcess.sealTestCard({ merchantId: merchantA, number: new Secret(visa) }).token).toBe(first.token);
    for (const sealed of [first, again, otherProcess.sealTestCard({ merchantId: merchantA, number: new Secret(visa) })]) {
      const result = await batcher.submit({ insertsIfAbsent: [{ table: 'vault_cards', row: sealed.row, conflictColumns: ['token'] }] });
      expect(result.ok).toBe(true);
    }
    const rows = await database.pool.query('SELECT count(*)::int AS n FROM vault_cards WHERE token = $1', [first.token]);
    expect(rows.rows[0].n).toBe(1);
    const opened = await vault.open(database.db, { merchantId: merchantA, token: first.token });
    expect(opened.reveal()).toBe(visa);
    expect(first.fingerprint).toBe(vault.fingerprint(new Secret(visa)));
    const error = await rejectionOf(vault.open(database.db, { merchantId: merchantB, token: first.token }));
    expect((error as AppError).code).toBe('resource_missing');
  });
});

describe('tenancy', () => {
  it("treats another merchant's token as not found", async () => {
    const sealed = await sealAndStore(vault, merchantA, visa);
    const error = await rejectionOf(vault.open(database.db, { merchantId: merchantB, token: sealed.token }));
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('resource_missing');
  });

  it('treats an unknown token as not found', async () => {
    const error = await rejectionOf(vault.open(database.db, { merchantId: merchantA, token: newId('vaultToken') }));
    expect((error as AppError).code).toBe('resource_missing');
  });
});

describe('tampering', () => {
  async function tamper(change: (row: Record<string, Buffer | string>) => Record<string, Buffer | string>): Promise<unknown> {
    const sealed = await sealAndStore(vault, merchantA, visa);
    const row = await database.db.selectFrom('vault_cards').selectAll().where('token', '=', sealed.token).executeTakeFirstOrThrow();
    const changed = change({ ...row } as unknown as Record<string, Buffer | string>);
    await database.db.updateTable('vault_cards').set(changed as never).where('token', '=', sealed.token).execute();
    const merchantId = typeof changed.merchant_id === 'string' ? changed.merchant_id : merchantA;
    const token = typeof changed.token === 'string' ? changed.token : sealed.token;
    const error = await rejectionOf(vault.open(database.db, { merchantId, token }));
    // A tampered row would (rightly) stop the rotation test below.
    await database.db.deleteFrom('vault_cards').where('token', '=', token).execute();
    return error;
  }

  function flipFirstBit(buffer: Buffer): Buffer {
    const copy = Buffer.from(buffer);
    copy[0] = copy[0]! ^ 1;
    return copy;
  }

  function expectIntegrityFailure(error: unknown): void {
    expect(error).toBeInstanceOf(VaultIntegrityError);
    expect(error).toBeInstanceOf(AssertionError);
    expect(String((error as Error).message)).not.toContain(visa);
    expect(String((error as Error).stack)).not.toContain(visa);
  }

  it('refuses a card whose ciphertext was altered', async () => {
    expectIntegrityFailure(await tamper((row) => ({ ciphertext: flipFirstBit(row.ciphertext as Buffer) })));
  });

  it('refuses a card whose authentication tag was altered', async () => {
    expectIntegrityFailure(await tamper((row) => ({ auth_tag: flipFirstBit(row.auth_tag as Buffer) })));
  });

  it('refuses a card whose IV was altered', async () => {
    expectIntegrityFailure(await tamper((row) => ({ iv: flipFirstBit(row.iv as Buffer) })));
  });

  it('refuses a card whose wrapped data key was altered', async () => {
    expectIntegrityFailure(await tamper((row) => ({ data_key_wrapped: flipFirstBit(row.data_key_wrapped as Buffer) })));
  });

  it('refuses a card moved to another merchant (the AAD binds the merchant)', async () => {
    expectIntegrityFailure(await tamper(() => ({ merchant_id: merchantB })));
  });

  it('refuses a card moved to another token (the AAD binds the token)', async () => {
    expectIntegrityFailure(await tamper(() => ({ token: newId('vaultToken') })));
  });

  it("refuses another card's ciphertext pasted into a row", async () => {
    const other = vault.seal({ merchantId: merchantA, number: new Secret(mastercard) });
    expectIntegrityFailure(
      await tamper(() => ({ iv: other.row.iv as Buffer, ciphertext: other.row.ciphertext as Buffer, auth_tag: other.row.auth_tag as Buffer })),
    );
  });

  it('refuses a row whose key id was changed to another configured key', async () => {
    const twoKeys = createVault({ keys: new Map([['k1', k1], ['k2', k2]]), activeKeyId: 'k1' });
    const sealed = await sealAndStore(twoKeys, merchantA, visa);
    await database.db.updateTable('vault_cards').set({ key_id: 'k2' }).where('token', '=', sealed.token).execute();
    expectIntegrityFailure(await rejectionOf(twoKeys.open(database.db, { merchantId: merchantA, token: sealed.token })));
    await database.db.deleteFrom('vault_cards').where('token', '=', sealed.token).execute();
  });
});

describe('rotation', () => {
  it('rewraps every old row under the new key, in batches, after which the old key can go', async () => {
    const m = newId('merchant');
    await database.db.insertInto('merchants').values({ id: m, name: 'rotation', settings: '{}' }).execute();
    const onlyOld = createVault({ keys: new Map([['k1', k1]]), activeKeyId: 'k1' });
    // More than one rotation batch (500) so the batching is exercised.
    const numbers = Array.from({ length: 1_203 }, (_, i) => (i % 2 === 0 ? visa : mastercard));
    const sealed = numbers.map((number) => onlyOld.seal({ merchantId: m, number: new Secret(number) }));
    const result = await batcher.submit({ inserts: sealed.map((s) => ({ table: 'vault_cards' as const, row: s.row })) });
    expect(result.ok).toBe(true);
    const otherRows = await database.db.selectFrom('vault_cards').select((eb) => eb.fn.countAll<string>().as('n')).where('merchant_id', '<>', m).where('key_id', '=', 'k1').executeTakeFirstOrThrow();

    const both = createVault({ keys: new Map([['k1', k1], ['k2', k2]]), activeKeyId: 'k2' });
    const before = await database.db.selectFrom('vault_cards').select(['token', 'ciphertext']).where('merchant_id', '=', m).execute();
    // Two rotations at once must not double-count or double-wrap.
    const [first, second] = await Promise.all([both.rotate(database.db), both.rotate(database.db)]);
    expect(first + second).toBe(1_203 + Number(otherRows.n));
    expect(await both.rotate(database.db)).toBe(0);

    const after = await database.db.selectFrom('vault_cards').select(['token', 'ciphertext', 'key_id']).where('merchant_id', '=', m).execute();
    expect(new Set(after.map((r) => r.key_id))).toEqual(new Set(['k2']));
    // Envelope encryption: the card ciphertext itself is untouched by rotation.
    const cipherByToken = new Map(before.map((r) => [r.token, r.ciphertext]));
    for (const r of after) expect(Buffer.compare(r.ciphertext, cipherByToken.get(r.token)!)).toBe(0);

    const onlyNew = createVault({ keys: new Map([['k2', k2]]), activeKeyId: 'k2' });
    for (const [i, s] of sealed.entries()) {
      if (i % 100 !== 0 && i !== sealed.length - 1) continue;
      expect((await onlyNew.open(database.db, { merchantId: m, token: s.token })).reveal()).toBe(numbers[i]);
    }
  });

  it('cannot open a row whose key was removed before rotating, and says which key without any card data', async () => {
    const sealed = await sealAndStore(createVault({ keys: new Map([['k-retired', new Secret(randomBytes(32))]]), activeKeyId: 'k-retired' }), merchantA, visa);
    const error = await rejectionOf(vault.open(database.db, { merchantId: merchantA, token: sealed.token }));
    expect(error).toBeInstanceOf(AssertionError);
    expect((error as Error).message).toContain('k-retired');
    expect((error as Error).message).not.toContain(visa);
    // And rotation refuses too rather than skipping the row silently.
    await expect(vault.rotate(database.db)).rejects.toThrow(/is not configured/);
    await database.db.deleteFrom('vault_cards').where('token', '=', sealed.token).execute();
  });
});

describe('fingerprints', () => {
  it('are equal for the same number and different for different numbers', () => {
    const a = vault.seal({ merchantId: merchantA, number: new Secret(visa) }).fingerprint;
    const b = vault.seal({ merchantId: merchantB, number: new Secret('4242 4242 4242 4242') }).fingerprint;
    const c = vault.seal({ merchantId: merchantA, number: new Secret(mastercard) }).fingerprint;
    const d = vault.seal({ merchantId: merchantA, number: new Secret('4000056655665556') }).fingerprint;
    expect(a).toMatch(/^[0-9A-Za-z]{16}$/);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).not.toBe(d);
    expect(vault.fingerprint(new Secret(visa))).toBe(a);
  });

  it('stay the same across rotation, and after the old key is retired when its bytes stay the fingerprint key', () => {
    const before = vault.fingerprint(new Secret(visa));
    const rotated = createVault({ keys: new Map([['k1', k1], ['k2', k2]]), activeKeyId: 'k2' });
    expect(rotated.fingerprint(new Secret(visa))).toBe(before);
    const retired = createVault({ keys: new Map([['k2', k2]]), activeKeyId: 'k2', fingerprintKey: k1 });
    expect(retired.fingerprint(new Secret(visa))).toBe(before);
  });

  it('depend on a secret key, so they cannot be computed from the number alone', () => {
    const other = createVault({ keys: new Map([['k9', new Secret(randomBytes(32))]]), activeKeyId: 'k9' });
    expect(other.fingerprint(new Secret(visa))).not.toBe(vault.fingerprint(new Secret(visa)));
  });
});

describe('configuration', () => {
  it('refuses keys that are not 32 bytes and an active key that is not configured', () => {
    expect(() => createVault({ keys: new Map([['short', new Secret(randomBytes(16))]]), activeKeyId: 'short' })).toThrow(AssertionError);
    expect(() => createVault({ keys: new Map([['k1', k1]]), activeKeyId: 'k2' })).toThrow(AssertionError);
    expect(() => createVault({ keys: new Map(), activeKeyId: 'k1' })).toThrow(AssertionError);
  });

  it('does not print key material when inspected', () => {
    const text = inspect(vault, { depth: 10, showHidden: true });
    expect(text).not.toContain(k1.reveal().toString('hex'));
  });
});
