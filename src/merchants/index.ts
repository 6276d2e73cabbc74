/**
 * Merchants and their API keys. Keys are shown once and stored as SHA-256 hashes: they carry
 * ~190 bits of randomness, so a fast hash is as safe as a slow one and keeps authentication cheap.
 */
import { createHash } from 'node:crypto';
import { newId, randomToken } from '../kernel/index.ts';
import type { Db } from '../db/index.ts';

export interface Merchant {
  readonly id: string;
  readonly name: string;
  readonly email: string | null;
  readonly country: string;
  readonly defaultCurrency: string;
  readonly handlesCardData: boolean;
  readonly liveEnabled: boolean;
  readonly createdAt: Date;
}

export type KeyKind = 'secret' | 'publishable';

export interface ApiKeyPrincipal {
  readonly keyId: string;
  readonly merchantId: string;
  readonly kind: KeyKind;
  readonly livemode: boolean;
  readonly handlesCardData: boolean;
}

export interface IssuedKey {
  readonly id: string;
  readonly kind: KeyKind;
  readonly livemode: boolean;
  /** The only time the full key exists outside the caller's hands. */
  readonly key: string;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

const keyPattern = /^(sk|pk)_(test|live)_[0-9A-Za-z]{24,128}$/;

export function parseKeyShape(key: string): { kind: KeyKind; livemode: boolean } | undefined {
  const match = keyPattern.exec(key);
  if (!match) return undefined;
  return { kind: match[1] === 'sk' ? 'secret' : 'publishable', livemode: match[2] === 'live' };
}

export async function createMerchant(
  db: Db,
  input: { name: string; email?: string | undefined; country?: string | undefined; defaultCurrency?: string | undefined; handlesCardData?: boolean | undefined; liveEnabled?: boolean | undefined },
): Promise<Merchant> {
  const row = await db
    .insertInto('merchants')
    .values({
      id: newId('merchant'),
      name: input.name,
      email: input.email ?? null,
      country: input.country ?? 'US',
      default_currency: input.defaultCurrency ?? 'usd',
      handles_card_data: input.handlesCardData ?? false,
      live_enabled: input.liveEnabled ?? false,
      settings: JSON.stringify({}),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toMerchant(row);
}

export async function getMerchant(db: Db, id: string): Promise<Merchant | undefined> {
  const row = await db.selectFrom('merchants').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toMerchant(row) : undefined;
}

export async function listMerchants(db: Db): Promise<Merchant[]> {
  const rows = await db.selectFrom('merchants').selectAll().orderBy('created_at').execute();
  return rows.map(toMerchant);
}

export async function issueApiKey(db: Db, input: { merchantId: string; kind: KeyKind; livemode: boolean }): Promise<IssuedKey> {
  const prefix = `${input.kind === 'secret' ? 'sk' : 'pk'}_${input.livemode ? 'live' : 'test'}_`;
  const key = `${prefix}${randomToken(32)}`;
  const id = newId('apiKey');
  await db
    .insertInto('api_keys')
    .values({ id, merchant_id: input.merchantId, kind: input.kind, livemode: input.livemode, key_hash: hashApiKey(key), key_last4: key.slice(-4) })
    .execute();
  return { id, kind: input.kind, livemode: input.livemode, key };
}

export async function revokeApiKey(db: Db, input: { merchantId: string; keyId: string }): Promise<boolean> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('id', '=', input.keyId)
    .where('merchant_id', '=', input.merchantId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Resolves a presented key to its merchant. Results are cached briefly per process (hash → principal)
 * because every API request authenticates; a revoked key stops working within `cacheTtlMs`.
 */
export class ApiKeyAuthenticator {
  readonly #db: Db;
  readonly #cacheTtlMs: number;
  readonly #cache = new Map<string, { principal: ApiKeyPrincipal | undefined; expiresAt: number }>();

  constructor(db: Db, options: { cacheTtlMs?: number } = {}) {
    this.#db = db;
    this.#cacheTtlMs = options.cacheTtlMs ?? 30_000;
  }

  async authenticate(key: string): Promise<ApiKeyPrincipal | undefined> {
    if (!parseKeyShape(key)) return undefined;
    const hash = hashApiKey(key);
    const cacheKey = hash.toString('base64');
    const now = Date.now();
    const cached = this.#cache.get(cacheKey);
    if (cached && cached.expiresAt > now) return cached.principal;
    const row = await this.#db
      .selectFrom('api_keys')
      .innerJoin('merchants', 'merchants.id', 'api_keys.merchant_id')
      .select(['api_keys.id', 'api_keys.merchant_id', 'api_keys.kind', 'api_keys.livemode', 'api_keys.revoked_at', 'merchants.handles_card_data'])
      .where('api_keys.key_hash', '=', hash)
      .executeTakeFirst();
    const principal =
      row && row.revoked_at === null
        ? { keyId: row.id, merchantId: row.merchant_id, kind: row.kind, livemode: row.livemode, handlesCardData: row.handles_card_data }
        : undefined;
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(cacheKey, { principal, expiresAt: now + this.#cacheTtlMs });
    return principal;
  }
}

function toMerchant(row: {
  id: string; name: string; email: string | null; country: string; default_currency: string;
  handles_card_data: boolean; live_enabled: boolean; created_at: Date;
}): Merchant {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    country: row.country,
    defaultCurrency: row.default_currency,
    handlesCardData: row.handles_card_data,
    liveEnabled: row.live_enabled,
    createdAt: row.created_at,
  };
}
