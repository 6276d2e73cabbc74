/**
 * Group commit for writes. Requests describe their writes as data (a WriteSet); one writer loop packs
 * many of them into one durable database transaction with a handful of set-based statements (unnest),
 * so throughput is bounded by rows, not by commits — the batching TigerBeetle and PostgreSQL's own
 * group commit rely on. Concurrency control is optimistic: a unit names the row versions it read
 * (guards) and the idempotency keys it claims; a unit whose guard or claim loses is not applied and
 * is told so, and its caller re-reads and tries again. Everything a unit writes commits or none of it.
 */
import type pg from 'pg';
import { AssertionError } from '../kernel/index.ts';
import type { Database } from './schema.ts';

export type TableName = keyof Database;
export type Row = Record<string, unknown>;

export interface Guard {
  readonly table: TableName;
  readonly id: string;
  /** The version the caller read; the unit applies only if the row still has it. */
  readonly version: number;
}

export interface Claim {
  readonly table: TableName;
  readonly row: Row;
  readonly conflictColumns: readonly string[];
}

export interface RowUpdate {
  readonly table: TableName;
  readonly key: Row;
  readonly set: Row;
}

export interface BalanceDelta {
  readonly accountId: string;
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
  /** The account may not end with posted plus pending debits above posted credits. */
  readonly nonNegative: boolean;
}

export interface WriteSet {
  readonly guards?: readonly Guard[];
  readonly claims?: readonly Claim[];
  readonly insertsIfAbsent?: readonly Claim[];
  readonly inserts?: readonly { readonly table: TableName; readonly row: Row }[];
  readonly updates?: readonly RowUpdate[];
  readonly balanceDeltas?: readonly BalanceDelta[];
}

export type WriteRejection =
  | { readonly ok: false; readonly reason: 'claim_taken' }
  | { readonly ok: false; readonly reason: 'version_conflict'; readonly table: TableName; readonly id: string }
  | { readonly ok: false; readonly reason: 'balance_insufficient'; readonly accountId: string };
export type WriteResult = { readonly ok: true } | WriteRejection;

// Inserts run in this order so foreign keys always point at rows already written.
const tableOrder: readonly TableName[] = [
  'merchants', 'api_keys', 'customers', 'vault_cards', 'payment_methods', 'payment_intents',
  'payment_attempts', 'refunds', 'ledger_accounts', 'ledger_account_buckets', 'ledger_transfers',
  'events', 'idempotency_keys',
];

export const ledgerBucketCount = 8;

interface Pending {
  readonly writeSet: WriteSet;
  resolve(result: WriteResult): void;
  reject(error: unknown): void;
}

class BalanceViolation extends Error {
  constructor(readonly accountIds: ReadonlySet<string>) {
    super('balance would go negative');
  }
}

type ColumnTypes = Map<string, Map<string, string>>;

export interface WriteBatcherOptions {
  pool: pg.Pool;
  maxBatchSize?: number;
  /** Batches in flight at once: one can build while another waits for its commit to reach disk. */
  concurrency?: number;
  onBatch?: (size: number, durationMs: number) => void;
}

export class WriteBatcher {
  readonly #pool: pg.Pool;
  readonly #maxBatchSize: number;
  readonly #concurrency: number;
  readonly #onBatch: ((size: number, durationMs: number) => void) | undefined;
  readonly #queue: Pending[] = [];
  #running = 0;
  #batchSeq = Math.floor(Math.random() * ledgerBucketCount);
  #columnTypes: Promise<ColumnTypes> | undefined;
  #idle: (() => void)[] = [];

  constructor(options: WriteBatcherOptions) {
    this.#pool = options.pool;
    this.#maxBatchSize = options.maxBatchSize ?? 400;
    this.#concurrency = options.concurrency ?? 2;
    this.#onBatch = options.onBatch;
  }

  submit(writeSet: WriteSet): Promise<WriteResult> {
    // One claim per unit: a unit that lost one of two claims could not take back the other.
    if ((writeSet.claims?.length ?? 0) > 1) return Promise.reject(new AssertionError('a write set claims at most one key'));
    return new Promise<WriteResult>((resolve, reject) => {
      this.#queue.push({ writeSet, resolve, reject });
      this.#pump();
    });
  }

  /** Resolves once every submitted write has committed or failed (graceful shutdown). */
  async drain(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatchSize);
      this.#running += 1;
      void this.#runBatch(batch).finally(() => {
        this.#running -= 1;
        if (this.#queue.length > 0) this.#pump();
        else if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
  }

  async #runBatch(batch: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const results = await this.#executeWithRetry(batch.map((p) => p.writeSet));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1) {
        const only = batch[0]!;
        if (error instanceof BalanceViolation) only.resolve({ ok: false, reason: 'balance_insufficient', accountId: [...error.accountIds][0]! });
        else only.reject(error);
      } else if (error instanceof BalanceViolation) {
        // Units that touch none of the short accounts go together again; the others one at a time,
        // so exactly the ones that would overdraw are refused.
        const clean = batch.filter((p) => !(p.writeSet.balanceDeltas ?? []).some((d) => error.accountIds.has(d.accountId)));
        const touching = batch.filter((p) => !clean.includes(p));
        if (clean.length > 0) await this.#runBatch(clean);
        for (const p of touching) await this.#runBatch([p]);
      } else {
        // Isolate the failing unit: every other unit still commits.
        for (const p of batch) await this.#runBatch([p]);
      }
    } finally {
      this.#onBatch?.(batch.length, performance.now() - started);
    }
  }

  async #executeWithRetry(units: WriteSet[]): Promise<WriteResult[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#execute(units);
      } catch (error) {
        const code = (error as { code?: string }).code;
        // Deadlocks and serialization failures are transient: the whole batch rolled back, so retry it.
        if ((code === '40P01' || code === '40001') && attempt < 5) continue;
        throw error;
      }
    }
  }

  async #execute(units: WriteSet[]): Promise<WriteResult[]> {
    const types = await this.#loadColumnTypes();
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const results: WriteResult[] = units.map(() => ({ ok: true }));
      const alive = (i: number) => results[i]!.ok;

      // 1. Guards: lock the rows each unit read, in one global order, and compare versions.
      const guardsByTable = new Map<TableName, { unit: number; guard: Guard }[]>();
      units.forEach((unit, i) => {
        for (const guard of unit.guards ?? []) {
          const list = guardsByTable.get(guard.table) ?? [];
          list.push({ unit: i, guard });
          guardsByTable.set(guard.table, list);
        }
      });
      for (const table of [...guardsByTable.keys()].sort()) {
        const entries = guardsByTable.get(table)!;
        const ids = [...new Set(entries.map((e) => e.guard.id))].sort();
        const locked = await client.query<{ id: string; version: number }>(
          `SELECT id, version FROM ${ident(table)} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
          [ids],
        );
        const versions = new Map(locked.rows.map((r) => [r.id, r.version]));
        const taken = new Set<string>();
        for (const { unit, guard } of entries) {
          if (!alive(unit)) continue;
          // Two units of one batch that read the same version: only the first may apply.
          if (versions.get(guard.id) !== guard.version || taken.has(guard.id)) {
            results[unit] = { ok: false, reason: 'version_conflict', table, id: guard.id };
          } else taken.add(guard.id);
        }
      }
      // A unit that lost one guard keeps the others it took in `taken`: another unit of this batch guarding
      // the same row then loses too and simply retries — a spurious conflict, never a wrong write.

      // 2. Claims (idempotency keys): first unit in the batch wins, then the database decides.
      const claimsByTable = new Map<string, { unit: number; claim: Claim; key: string }[]>();
      const seenClaims = new Set<string>();
      units.forEach((unit, i) => {
        if (!alive(i)) return;
        for (const claim of unit.claims ?? []) {
          const key = claim.conflictColumns.map((c) => String(claim.row[c])).join('\u0000');
          const scoped = `${claim.table}\u0000${key}`;
          if (seenClaims.has(scoped)) {
            results[i] = { ok: false, reason: 'claim_taken' };
            continue;
          }
          seenClaims.add(scoped);
          const groupKey = `${claim.table}|${claim.conflictColumns.join(',')}`;
          const list = claimsByTable.get(groupKey) ?? [];
          list.push({ unit: i, claim, key });
          claimsByTable.set(groupKey, list);
        }
      });
      for (const entries of claimsByTable.values()) {
        const live = entries.filter((e) => alive(e.unit)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        if (live.length === 0) continue;
        const { table, conflictColumns } = live[0]!.claim;
        const inserted = await bulkInsert(client, types, table, live.map((e) => e.claim.row), { conflictColumns, returning: conflictColumns });
        const won = new Set(inserted.map((r) => conflictColumns.map((c) => String(r[c])).join('\u0000')));
        for (const e of live) if (!won.has(e.key)) results[e.unit] = { ok: false, reason: 'claim_taken' };
      }
      // A unit that won a claim above but lost a guard never gets here: guards ran first.

      const live = units.filter((_, i) => alive(i));

      // 3. Rows that may already exist (ledger accounts): insert, ignore conflicts; sorted to keep lock order.
      const ifAbsent = groupBy(live.flatMap((u) => u.insertsIfAbsent ?? []), (c) => `${c.table}|${c.conflictColumns.join(',')}`);
      for (const claims of ifAbsent.values()) {
        const { table, conflictColumns } = claims[0]!;
        const unique = new Map<string, Row>();
        for (const c of claims) unique.set(conflictColumns.map((col) => String(c.row[col])).join('\u0000'), c.row);
        const rows = [...unique.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row);
        await bulkInsert(client, types, table, rows, { conflictColumns, returning: [] });
      }

      // 4. New rows, table by table in foreign-key order.
      const inserts = live.flatMap((u) => u.inserts ?? []);
      for (const table of tableOrder) {
        const rows = inserts.filter((ins) => ins.table === table).map((ins) => ins.row);
        for (const group of groupBy(rows, (r) => Object.keys(r).sort().join(',')).values()) {
          await bulkInsert(client, types, table, group, { returning: [] });
        }
      }

      // 5. Updates, grouped by table, key columns and set columns.
      const updates = live.flatMap((u) => u.updates ?? []);
      const updateGroups = groupBy(updates, (u) => `${u.table}|${Object.keys(u.key).sort().join(',')}|${Object.keys(u.set).sort().join(',')}`);
      for (const group of [...updateGroups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, g]) => g)) {
        await bulkUpdate(client, types, group);
      }

      // 6. Balances: one upsert per (account, bucket), sorted, then the non-negative check.
      const deltas = live.flatMap((u) => u.balanceDeltas ?? []);
      if (deltas.length > 0) {
        const bucket = this.#batchSeq++ % ledgerBucketCount;
        const byAccount = new Map<string, { dp: bigint; dP: bigint; cp: bigint; cP: bigint; nonNegative: boolean }>();
        for (const d of deltas) {
          const sum = byAccount.get(d.accountId) ?? { dp: 0n, dP: 0n, cp: 0n, cP: 0n, nonNegative: false };
          sum.dp += d.debitsPending;
          sum.dP += d.debitsPosted;
          sum.cp += d.creditsPending;
          sum.cP += d.creditsPosted;
          sum.nonNegative ||= d.nonNegative;
          byAccount.set(d.accountId, sum);
        }
        // Only a batch that lowers a non-negative account's available amount (posted credits − posted
        // debits − pending debits) can break the rule; a batch that only raises it (payments: charge in,
        // fee out) cannot, and takes no lock beyond its own bucket row.
        const lowers = (s: { dp: bigint; dP: bigint; cP: bigint }) => s.cP - s.dP - s.dp < 0n;
        const accountIds = [...byAccount.keys()].sort();
        const column = (pick: (s: { dp: bigint; dP: bigint; cp: bigint; cP: bigint }) => bigint) => accountIds.map((id) => pick(byAccount.get(id)!).toString());
        // Lock every existing bucket of each account this batch lowers, in one global order and before
        // writing any bucket, so batches that lower one account queue here and the check below sees every
        // debit committed before it. (Locking after the upsert let two batches each hold their own bucket
        // while waiting for the other's: a deadlock.) Batches that only raise an account upsert one bucket
        // row in sorted order and can wait behind a lowering batch, never in a cycle with it.
        const guarded = accountIds.filter((id) => byAccount.get(id)!.nonNegative && lowers(byAccount.get(id)!));
        if (guarded.length > 0) {
          await client.query('SELECT 1 FROM ledger_account_buckets WHERE account_id = ANY($1::text[]) ORDER BY account_id, bucket FOR UPDATE', [guarded]);
        }
        await client.query(
          `INSERT INTO ledger_account_buckets AS b (account_id, bucket, debits_pending, debits_posted, credits_pending, credits_posted)
           SELECT u.account_id, $2::int2, u.d_pending, u.d_posted, u.c_pending, u.c_posted
             FROM unnest($1::text[], $3::int8[], $4::int8[], $5::int8[], $6::int8[]) AS u(account_id, d_pending, d_posted, c_pending, c_posted)
           ON CONFLICT (account_id, bucket) DO UPDATE SET
             debits_pending = b.debits_pending + excluded.debits_pending,
             debits_posted = b.debits_posted + excluded.debits_posted,
             credits_pending = b.credits_pending + excluded.credits_pending,
             credits_posted = b.credits_posted + excluded.credits_posted`,
          [accountIds, bucket, column((s) => s.dp), column((s) => s.dP), column((s) => s.cp), column((s) => s.cP)],
        );
        if (guarded.length > 0) {
          const short = await client.query<{ account_id: string }>(
            `SELECT account_id FROM ledger_account_buckets WHERE account_id = ANY($1::text[])
              GROUP BY account_id HAVING sum(debits_posted + debits_pending) > sum(credits_posted)`,
            [guarded],
          );
          if (short.rows.length > 0) throw new BalanceViolation(new Set(short.rows.map((r) => r.account_id)));
        }
      }

      await client.query('COMMIT');
      return results;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  #loadColumnTypes(): Promise<ColumnTypes> {
    this.#columnTypes ??= (async () => {
      const result = await this.#pool.query<{ table_name: string; column_name: string; udt_name: string }>(
        `SELECT table_name, column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema()`,
      );
      const map: ColumnTypes = new Map();
      for (const r of result.rows) {
        const columns = map.get(r.table_name) ?? new Map<string, string>();
        columns.set(r.column_name, r.udt_name);
        map.set(r.table_name, columns);
      }
      return map;
    })();
    this.#columnTypes.catch(() => (this.#columnTypes = undefined));
    return this.#columnTypes;
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new AssertionError(`bad identifier ${name}`);
  return `"${name}"`;
}

/** How a column travels through unnest: the array type of the parameter and the cast back to the column. */
function columnCodec(types: ColumnTypes, table: string, column: string): { param: string; cast: string; encode: (v: unknown) => unknown } {
  const udt = types.get(table)?.get(column);
  if (udt === undefined) throw new AssertionError(`unknown column ${table}.${column}`);
  switch (udt) {
    case 'jsonb':
      return { param: 'text[]', cast: '::jsonb', encode: (v) => (v === null || v === undefined ? null : JSON.stringify(v)) };
    case '_text':
      return { param: 'text[]', cast: '::text[]', encode: (v) => (v === null || v === undefined ? null : textArrayLiteral(v as string[])) };
    case 'int8':
      return { param: 'int8[]', cast: '', encode: (v) => (v === null || v === undefined ? null : typeof v === 'bigint' || typeof v === 'number' ? v.toString() : v) };
    default:
      return { param: `${udt}[]`, cast: '', encode: (v) => (v === undefined ? null : v) };
  }
}

function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
}

async function bulkInsert(
  client: pg.PoolClient,
  types: ColumnTypes,
  table: TableName,
  rows: readonly Row[],
  options: { conflictColumns?: readonly string[]; returning: readonly string[] },
): Promise<Row[]> {
  if (rows.length === 0) return [];
  const columns = Object.keys(rows[0]!).sort();
  const codecs = columns.map((c) => columnCodec(types, table, c));
  const params = columns.map((c, i) => rows.map((r) => codecs[i]!.encode(r[c])));
  const unnestArgs = codecs.map((codec, i) => `$${i + 1}::${codec.param}`).join(', ');
  const aliases = columns.map((_, i) => `c${i}`);
  const select = codecs.map((codec, i) => `u.${aliases[i]}${codec.cast}`).join(', ');
  let text = `INSERT INTO ${ident(table)} (${columns.map(ident).join(', ')}) SELECT ${select} FROM unnest(${unnestArgs}) AS u(${aliases.join(', ')})`;
  if (options.conflictColumns) text += ` ON CONFLICT (${options.conflictColumns.map(ident).join(', ')}) DO NOTHING`;
  if (options.returning.length > 0) text += ` RETURNING ${options.returning.map(ident).join(', ')}`;
  const result = await client.query(text, params);
  return result.rows as Row[];
}

async function bulkUpdate(client: pg.PoolClient, types: ColumnTypes, updates: readonly RowUpdate[]): Promise<void> {
  const first = updates[0]!;
  const table = first.table;
  const keyColumns = Object.keys(first.key).sort();
  const setColumns = Object.keys(first.set).sort();
  const columns = [...keyColumns, ...setColumns];
  const codecs = columns.map((c) => columnCodec(types, table, c));
  const params = columns.map((c, i) => updates.map((u) => codecs[i]!.encode(c in u.key ? u.key[c] : u.set[c])));
  const aliases = columns.map((_, i) => `c${i}`);
  const unnestArgs = codecs.map((codec, i) => `$${i + 1}::${codec.param}`).join(', ');
  const assignments = setColumns.map((c, j) => `${ident(c)} = u.${aliases[keyColumns.length + j]}${codecs[keyColumns.length + j]!.cast}`).join(', ');
  const where = keyColumns.map((c, i) => `t.${ident(c)} = u.${aliases[i]}${codecs[i]!.cast}`).join(' AND ');
  await client.query(
    `UPDATE ${ident(table)} AS t SET ${assignments} FROM unnest(${unnestArgs}) AS u(${aliases.join(', ')}) WHERE ${where}`,
    params,
  );
}
