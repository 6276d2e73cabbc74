/**
 * The card vault: the only code that encrypts or decrypts card numbers.
 *
 * Envelope encryption. Every card gets its own random 256-bit data key. The card number is sealed
 * with AES-256-GCM under that data key (columns iv, ciphertext, auth_tag); the data key is sealed
 * with AES-256-GCM under a configured key-encryption key (columns data_key_wrapped, data_key_iv,
 * data_key_auth_tag; key_id names the key-encryption key). Rotation therefore rewrites 60 bytes per
 * card and never touches a card number. Each encryption uses a fresh random 96-bit IV, as GCM requires.
 *
 * Additional authenticated data binds both ciphertexts to their token and merchant, so a row copied
 * onto another token or merchant does not decrypt. The wrapped key's AAD also names its key id.
 *
 * A card number leaves this module only inside a Secret. Errors name tokens and key ids, never digits.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import { AppError, AssertionError, assert, newId, normalizeCardNumber, Secret } from '../kernel/index.ts';
import type { Db, VaultCardsTable } from '../db/index.ts';

export interface VaultOptions {
  /**
   * Key-encryption keys by id, each exactly 32 bytes. Keep every key that still wraps a row until
   * `rotate` has moved those rows to the active key. Map order is configuration order: the first
   * entry is the oldest key.
   */
  readonly keys: ReadonlyMap<string, Secret<Buffer>>;
  /** The key new cards are wrapped with and `rotate` moves old rows to. */
  readonly activeKeyId: string;
  /**
   * Input keying material for card fingerprints (any length ≥ 32 bytes). Fingerprints must not
   * change when encryption keys rotate, so they come from their own key. When absent, it is the
   * oldest configured key (the first in `keys`): that key can then be retired for encryption after
   * `rotate`, but its bytes must stay configured here, or every fingerprint changes.
   */
  readonly fingerprintKey?: Secret<Buffer>;
}

export interface SealInput {
  readonly merchantId: string;
  readonly number: Secret<string>;
}

export interface SealedCard {
  /** Opaque handle for the card (`vt_…`); stored on the PaymentMethod. */
  readonly token: string;
  /** Stable per card number across merchants and key rotation, 16 base62 characters like Stripe's. */
  readonly fingerprint: string;
  /** The `vault_cards` insert row, for the caller's WriteSet. Holds only ciphertext. */
  readonly row: Record<string, unknown>;
}

export interface Vault {
  /** Encrypts a card number (spaces and dashes allowed) into a new vault row; writes nothing. */
  seal(input: SealInput): SealedCard;
  /**
   * One vault row per merchant for a published test card number (Stripe's `pm_card_*` ids): the same
   * token every time, so PaymentMethods made from it share the row instead of sealing and storing
   * the same public number per payment. The row is sealed like any other (the vault treats every
   * number alike); callers insert it if absent. The token is derived with the fingerprint key, so it
   * says nothing about the number to anyone without that key.
   */
  sealTestCard(input: SealInput): SealedCard;
  /** Decrypts a card of this merchant. Another merchant's token, or an unknown one, is resource_missing. */
  open(db: Db, input: { merchantId: string; token: string }): Promise<Secret<string>>;
  /** Rewraps every data key not under the active key; returns how many rows it moved. */
  rotate(db: Db): Promise<number>;
  /** The fingerprint `seal` would give this card number (e.g. to look for a card already on file). */
  fingerprint(number: Secret<string>): string;
  /**
   * Seals a small secret that is not a card (a webhook signing secret, a channel credential) into one
   * self-describing string `v1.<keyId>.<iv>.<ciphertext>.<tag>`, bound by AAD to its purpose, owner
   * and merchant so a value copied onto another row does not open.
   */
  sealValue(value: Secret<string>, binding: ValueBinding): string;
  openValue(sealed: string, binding: ValueBinding): Secret<string>;
  /** Whether a sealed value is under a key other than the active one (and should be resealed). */
  needsReseal(sealed: string): boolean;
}

/** What a sealed value belongs to; all three must match to open it. */
export interface ValueBinding {
  readonly purpose: string;
  readonly ownerId: string;
  readonly merchantId: string;
}

/** The stored ciphertext failed authentication: the row was altered, or a key is wrong. A bug-class failure (500). */
export class VaultIntegrityError extends AssertionError {
  override name = 'VaultIntegrityError';
}

const keyLengthBytes = 32;
const ivLengthBytes = 12;
const authTagLengthBytes = 16;
const fingerprintLength = 16;
/** Rows rewrapped per statement during rotation: bounded memory, short row locks. */
const rotateBatchSize = 500;
const keyIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;
const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

interface Sealed {
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly authTag: Buffer;
}

function encrypt(key: Buffer | KeyObject, plaintext: Buffer, aad: Buffer): Sealed {
  const iv = randomBytes(ivLengthBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: authTagLengthBytes });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, authTag: cipher.getAuthTag() };
}

/** Undefined when authentication fails; callers turn that into an error that names no data. */
function decrypt(key: Buffer | KeyObject, sealed: Sealed, aad: Buffer): Buffer | undefined {
  if (sealed.iv.length !== ivLengthBytes || sealed.authTag.length !== authTagLengthBytes) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv, { authTagLength: authTagLengthBytes });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.authTag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** JSON of an array is unambiguous whatever characters the ids contain (no separator games). */
function panAad(token: string, merchantId: string): Buffer {
  return Buffer.from(JSON.stringify(['fenpay.vault.v1', 'card_number', token, merchantId]), 'utf8');
}

function dataKeyAad(token: string, merchantId: string, keyId: string): Buffer {
  return Buffer.from(JSON.stringify(['fenpay.vault.v1', 'data_key', token, merchantId, keyId]), 'utf8');
}

function valueAad(binding: ValueBinding, keyId: string): Buffer {
  return Buffer.from(JSON.stringify(['fenpay.vault.v1', 'value', binding.purpose, binding.ownerId, binding.merchantId, keyId]), 'utf8');
}

function toBase62(bytes: Buffer, length: number): string {
  let value = BigInt(`0x${bytes.toString('hex')}`);
  let out = '';
  for (let i = 0; i < length; i++) {
    out += base62[Number(value % 62n)];
    value /= 62n;
  }
  return out;
}

export function createVault(options: VaultOptions): Vault {
  assert(options.keys.size > 0, 'the vault needs at least one key');
  // Copy the key material once so a caller mutating its map cannot change keys under us.
  // KeyObjects are built once: building one per call was a tenth of the payment path's CPU.
  const keys = new Map<string, KeyObject>();
  for (const [id, secret] of options.keys) {
    assert(keyIdPattern.test(id), `vault key id ${JSON.stringify(id)} must match ${keyIdPattern.source}`);
    const key = secret.reveal();
    assert(Buffer.isBuffer(key) && key.length === keyLengthBytes, `vault key ${id} must be exactly ${keyLengthBytes} bytes`);
    keys.set(id, createSecretKey(Buffer.from(key)));
  }
  const activeKeyId = options.activeKeyId;
  const configuredActiveKey = keys.get(activeKeyId);
  assert(configuredActiveKey !== undefined, `the active vault key ${activeKeyId} is not among the configured keys`);
  const activeKey: KeyObject = configuredActiveKey;

  const fingerprintMaterial = options.fingerprintKey?.reveal() ?? [...options.keys.values()][0]!.reveal();
  assert(fingerprintMaterial.length >= keyLengthBytes, `the fingerprint key must have at least ${keyLengthBytes} bytes`);
  // HKDF gives the fingerprint its own key, so a fingerprint reveals nothing about an encryption key
  // even when both come from the same configured secret.
  const fingerprintHmacKey = createSecretKey(Buffer.from(hkdfSync('sha256', fingerprintMaterial, 'fenpay.vault', 'card-fingerprint.v1', keyLengthBytes)));

  function keyFor(keyId: string, token: string): KeyObject {
    const key = keys.get(keyId);
    if (key === undefined) throw new AssertionError(`vault key ${keyId} (needed by ${token}) is not configured`);
    return key;
  }

  function fingerprintOf(digits: string): string {
    // A keyed HMAC, not a plain hash: card numbers have too little entropy (a known BIN and last4
    // leave about 10^5 candidates) for an unkeyed hash to hide them.
    return toBase62(createHmac('sha256', fingerprintHmacKey).update(digits, 'utf8').digest(), fingerprintLength);
  }

  function digitsOf(number: Secret<string>): string {
    const digits = normalizeCardNumber(number.reveal());
    // Format only: whether the number passes Luhn is the caller's rule (the sandbox wants to see bad numbers).
    if (digits === undefined) throw new AppError('incorrect_number', { param: 'card[number]', message: 'Your card number is incorrect.' });
    return digits;
  }

  function unwrapDataKey(row: Pick<VaultCardsTable, 'token' | 'merchant_id' | 'key_id' | 'data_key_wrapped' | 'data_key_iv' | 'data_key_auth_tag'>): Buffer {
    const dataKey = decrypt(
      keyFor(row.key_id, row.token),
      { iv: row.data_key_iv, ciphertext: row.data_key_wrapped, authTag: row.data_key_auth_tag },
      dataKeyAad(row.token, row.merchant_id, row.key_id),
    );
    if (dataKey === undefined || dataKey.length !== keyLengthBytes) throw new VaultIntegrityError(`vault card ${row.token}: the wrapped data key failed authentication`);
    return dataKey;
  }

  function sealDigits(merchantId: string, digits: string, token: string): SealedCard {
    const dataKey = randomBytes(keyLengthBytes);
    const plaintext = Buffer.from(digits, 'utf8');
    try {
      // A KeyObject for the data key: the cipher prepares a raw Buffer key ~2.5× slower than it costs to make one.
      const pan = encrypt(createSecretKey(dataKey), plaintext, panAad(token, merchantId));
      const wrapped = encrypt(activeKey, dataKey, dataKeyAad(token, merchantId, activeKeyId));
      const row = {
        token,
        merchant_id: merchantId,
        key_id: activeKeyId,
        iv: pan.iv,
        ciphertext: pan.ciphertext,
        auth_tag: pan.authTag,
        data_key_wrapped: wrapped.ciphertext,
        data_key_iv: wrapped.iv,
        data_key_auth_tag: wrapped.authTag,
      } satisfies Omit<VaultCardsTable, 'created_at'>;
      return { token, fingerprint: fingerprintOf(digits), row };
    } finally {
      // Strings cannot be wiped, but buffers we own can.
      dataKey.fill(0);
      plaintext.fill(0);
    }
  }

  // Sealed rows of published test cards, by merchant and number (see `sealTestCard`).
  const testCards = new Map<string, SealedCard>();

  return {
    seal({ merchantId, number }) {
      return sealDigits(merchantId, digitsOf(number), newId('vaultToken'));
    },

    sealTestCard({ merchantId, number }) {
      const digits = digitsOf(number);
      const cacheKey = `${merchantId}\u0000${digits}`;
      let sealed = testCards.get(cacheKey);
      if (sealed === undefined) {
        const token = `vt_${toBase62(createHmac('sha256', fingerprintHmacKey).update(`test-card\u0000${merchantId}\u0000${digits}`, 'utf8').digest(), 24)}`;
        sealed = sealDigits(merchantId, digits, token);
        if (testCards.size >= 10_000) testCards.clear();
        testCards.set(cacheKey, sealed);
      }
      return sealed;
    },

    async open(db, { merchantId, token }) {
      const row = await db
        .selectFrom('vault_cards')
        .select(['token', 'merchant_id', 'key_id', 'iv', 'ciphertext', 'auth_tag', 'data_key_wrapped', 'data_key_iv', 'data_key_auth_tag'])
        .where('token', '=', token)
        .where('merchant_id', '=', merchantId)
        .executeTakeFirst();
      if (row === undefined) throw new AppError('resource_missing', { message: 'No such card in the vault.' });
      const dataKey = unwrapDataKey(row);
      try {
        const plaintext = decrypt(dataKey, { iv: row.iv, ciphertext: row.ciphertext, authTag: row.auth_tag }, panAad(row.token, row.merchant_id));
        if (plaintext === undefined) throw new VaultIntegrityError(`vault card ${row.token}: the card number failed authentication`);
        const digits = plaintext.toString('utf8');
        plaintext.fill(0);
        if (normalizeCardNumber(digits) !== digits) throw new VaultIntegrityError(`vault card ${row.token}: decrypted to something that is not a card number`);
        return new Secret(digits);
      } finally {
        dataKey.fill(0);
      }
    },

    sealValue(value, binding) {
      const plaintext = Buffer.from(value.reveal(), 'utf8');
      try {
        const sealed = encrypt(activeKey, plaintext, valueAad(binding, activeKeyId));
        return ['v1', activeKeyId, sealed.iv.toString('base64url'), sealed.ciphertext.toString('base64url'), sealed.authTag.toString('base64url')].join('.');
      } finally {
        plaintext.fill(0);
      }
    },

    openValue(sealed, binding) {
      const parts = sealed.split('.');
      if (parts.length !== 5 || parts[0] !== 'v1') throw new VaultIntegrityError(`sealed ${binding.purpose} of ${binding.ownerId} is malformed`);
      const keyId = parts[1]!;
      const plaintext = decrypt(
        keyFor(keyId, binding.ownerId),
        { iv: Buffer.from(parts[2]!, 'base64url'), ciphertext: Buffer.from(parts[3]!, 'base64url'), authTag: Buffer.from(parts[4]!, 'base64url') },
        valueAad(binding, keyId),
      );
      if (plaintext === undefined) throw new VaultIntegrityError(`sealed ${binding.purpose} of ${binding.ownerId} failed authentication`);
      const value = plaintext.toString('utf8');
      plaintext.fill(0);
      return new Secret(value);
    },

    needsReseal(sealed) {
      return sealed.split('.')[1] !== activeKeyId;
    },

    async rotate(db) {
      let moved = 0;
      // Keyset pagination by token: every row is visited once even if a concurrent rotation moves it first.
      let after = '';
      for (;;) {
        const rows = await db
          .selectFrom('vault_cards')
          .select(['token', 'merchant_id', 'key_id', 'data_key_wrapped', 'data_key_iv', 'data_key_auth_tag'])
          .where('key_id', '<>', activeKeyId)
          .where('token', '>', after)
          .orderBy('token')
          .limit(rotateBatchSize)
          .execute();
        if (rows.length === 0) return moved;
        const tokens: string[] = [];
        const oldKeyIds: string[] = [];
        const wrappedKeys: Buffer[] = [];
        const ivs: Buffer[] = [];
        const authTags: Buffer[] = [];
        for (const row of rows) {
          const dataKey = unwrapDataKey(row);
          try {
            const wrapped = encrypt(activeKey, dataKey, dataKeyAad(row.token, row.merchant_id, activeKeyId));
            tokens.push(row.token);
            oldKeyIds.push(row.key_id);
            wrappedKeys.push(wrapped.ciphertext);
            ivs.push(wrapped.iv);
            authTags.push(wrapped.authTag);
          } finally {
            dataKey.fill(0);
          }
        }
        // One statement per batch; each row's key id and its new wrapping change together. The
        // old-key condition makes a row another rotation already moved a no-op, not a double wrap.
        const result = await sql`
          UPDATE vault_cards AS t
             SET key_id = ${activeKeyId}, data_key_wrapped = u.wrapped, data_key_iv = u.iv, data_key_auth_tag = u.auth_tag
            FROM unnest(${tokens}::text[], ${oldKeyIds}::text[], ${wrappedKeys}::bytea[], ${ivs}::bytea[], ${authTags}::bytea[])
                 AS u(token, old_key_id, wrapped, iv, auth_tag)
           WHERE t.token = u.token AND t.key_id = u.old_key_id`.execute(db);
        moved += Number(result.numAffectedRows ?? 0n);
        after = rows.at(-1)!.token;
      }
    },

    fingerprint(number) {
      return fingerprintOf(digitsOf(number));
    },
  };
}
