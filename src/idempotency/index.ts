/**
 * Idempotency keys as Stripe documents them. A key is claimed in the same database transaction as the
 * first write its request makes (with the id of the object it creates or changes), and its response is
 * stored in the same transaction as the last write — so a stored response always matches what happened,
 * and a request that died half-way can be recovered from the object it recorded (Brandur Leach's
 * "atomic phases" design for Stripe-like APIs).
 */
import { createHash } from 'node:crypto';
import type { Claim, Db, RowUpdate } from '../db/index.ts';
import type { Tenant } from '../kernel/index.ts';

export const idempotencyKeyLengthMax = 255;

export interface StoredResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface IdempotencyRecord {
  readonly requestMethod: string;
  readonly requestPath: string;
  readonly requestHash: string;
  readonly lockedAt: Date | null;
  readonly resourceId: string | null;
  readonly response: StoredResponse | undefined;
  readonly createdAt: Date;
}

/** Canonical hash of a request's parameters: key order does not matter, values do. */
export function requestFingerprint(input: { method: string; path: string; params: unknown }): string {
  return createHash('sha256').update(`${input.method} ${input.path}\n${canonicalJson(input.params)}`).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(typeof value === 'bigint' ? value.toString() : value) ?? 'null';
}

/**
 * One request's idempotency scope. Flows call `claim(resourceId)` in their first WriteSet and
 * `complete(response)` in their last; the HTTP layer completes whatever a flow did not.
 */
export class IdempotencyScope {
  claimed = false;
  completed = false;

  constructor(
    readonly tenant: Tenant,
    readonly key: string,
    readonly method: string,
    readonly path: string,
    readonly hash: string,
  ) {}

  claim(resourceId: string | null, now: Date): Claim {
    return {
      table: 'idempotency_keys',
      conflictColumns: ['merchant_id', 'livemode', 'key'],
      row: {
        merchant_id: this.tenant.merchantId,
        livemode: this.tenant.livemode,
        key: this.key,
        request_method: this.method,
        request_path: this.path,
        request_hash: this.hash,
        locked_at: now,
        resource_id: resourceId,
        created_at: now,
      },
    };
  }

  complete(response: StoredResponse): RowUpdate {
    return {
      table: 'idempotency_keys',
      key: { merchant_id: this.tenant.merchantId, livemode: this.tenant.livemode, key: this.key },
      set: { response_status: response.status, response_body: JSON.stringify(response.body), locked_at: null },
    };
  }
}

export async function readIdempotencyRecord(db: Db, tenant: Tenant, key: string): Promise<IdempotencyRecord | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where('key', '=', key)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    requestMethod: row.request_method,
    requestPath: row.request_path,
    requestHash: row.request_hash,
    lockedAt: row.locked_at,
    resourceId: row.resource_id,
    response: row.response_status === null || row.response_body === null ? undefined : { status: row.response_status, body: JSON.parse(row.response_body) as unknown },
    createdAt: row.created_at,
  };
}

/** Keys are kept at least `ttlHours` (≥ 24, as Stripe promises); older ones are pruned by a job. */
export async function pruneIdempotencyKeys(db: Db, options: { ttlHours: number; now: Date }): Promise<number> {
  const cutoff = new Date(options.now.getTime() - options.ttlHours * 3_600_000);
  const result = await db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff).where('locked_at', 'is', null).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** A stale in-progress key (its request died) is handed to a retry: its lock is renewed. */
export async function takeOverStaleKey(db: Db, tenant: Tenant, key: string, options: { staleBefore: Date; now: Date }): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_keys')
    .set({ locked_at: options.now })
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .where('key', '=', key)
    .where('response_status', 'is', null)
    .where('locked_at', '<', options.staleBefore)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function storeResponseDirect(db: Db, scope: IdempotencyScope, response: StoredResponse): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ response_status: response.status, response_body: JSON.stringify(response.body), locked_at: null })
    .where('merchant_id', '=', scope.tenant.merchantId)
    .where('livemode', '=', scope.tenant.livemode)
    .where('key', '=', scope.key)
    .execute();
}
