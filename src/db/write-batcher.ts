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
  /** The account's merchant (null for platform accounts), carried onto its bucket rows. */
  readonly merchantId: string | null;
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
  'events', 'idempotency_keys', 'webhook_endpoints', 'webhook_endpoint_secrets', 'channel_accounts',
  'coupons', 'promotion_codes', 'checkout_sessions', 'checkout_line_items', 'coupon_redemptions',
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

  /**
   * One batch in one round trip to PostgreSQL, or two when a guard or claim loses. Every statement of
   * a round trip goes in one simple-protocol message, with values as typed, escaped literals: a busy
   * event loop costs one scheduling delay per round trip, not one per statement.
   *   one trip: BEGIN; DO (lock and check guards, take claims, raise on a loss); writes; COMMIT
   *   after a loss, round trip 1: BEGIN; lock guarded rows; insert idempotency claims (RETURNING the ones won)
   *   round trip 2: drop claims of units that lost a guard; inserts; updates; balances; check; COMMIT
   */
  async #execute(units: WriteSet[]): Promise<WriteResult[]> {
    const types = await this.#loadColumnTypes();
    const client = await this.#pool.connect();
    let broken = false;
    let open = false;
    try {
      const results: WriteResult[] = units.map(() => ({ ok: true }));
      const alive = (i: number) => results[i]!.ok;

      // Round trip 1: guards and claims.
      const guardsByTable = new Map<TableName, { unit: number; guard: Guard }[]>();
      units.forEach((unit, i) => {
        for (const guard of unit.guards ?? []) {
          const list = guardsByTable.get(guard.table) ?? [];
          list.push({ unit: i, guard });
          guardsByTable.set(guard.table, list);
        }
      });
      const guardTables = [...guardsByTable.keys()].sort();
      const claimsByTable = new Map<string, { unit: number; claim: Claim; key: string }[]>();
      const seenClaims = new Set<string>();
      units.forEach((unit, i) => {
        for (const claim of unit.claims ?? []) {
          const key = claim.conflictColumns.map((c) => String(claim.row[c])).join('\u0000');
          const scoped = `${claim.table}\u0000${key}`;
          // Two units of one batch claiming one key: the first may win, the second has lost.
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
      const claimGroups = [...claimsByTable.values()].map((entries) =>
        entries.filter((e) => alive(e.unit)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      ).filter((entries) => entries.length > 0);

      const firstTrip = ['BEGIN'];
      for (const table of guardTables) {
        const ids = [...new Set(guardsByTable.get(table)!.map((e) => e.guard.id))].sort();
        firstTrip.push(`SELECT id, version FROM ${ident(table)} WHERE id IN (${ids.map((id) => quote(id)).join(', ')}) ORDER BY id FOR UPDATE`);
      }
      for (const entries of claimGroups) {
        const { table, conflictColumns } = entries[0]!.claim;
        firstTrip.push(insertSql(types, table, entries.map((e) => e.claim.row), { conflictColumns, returning: conflictColumns }));
      }
      // One round trip when nothing is expected to lose: a DO block locks and checks the guards and
      // takes the claims, raising on the first mismatch, and the writes follow in the same message.
      // A raise aborts the transaction before anything commits; then the batch is rolled back and
      // takes the two-trip path, which finds out which units lost. (Two units of the batch guarding
      // one row always take the two-trip path: only one of them may apply.)
      const guardRepeats = guardTables.some((table) => {
        const ids = guardsByTable.get(table)!.filter((e) => alive(e.unit)).map((e) => e.guard.id);
        return new Set(ids).size !== ids.length;
      });
      if (firstTrip.length > 1 && !guardRepeats) {
        open = true;
        try {
          const writes = this.#writeStatements(types, units.filter((_, i) => alive(i)));
          await client.query(['BEGIN', optimisticCheck(types, guardTables.map((table) => guardsByTable.get(table)!.filter((e) => alive(e.unit))), claimGroups), ...writes, 'COMMIT'].join(';\n'));
          open = false;
          return results;
        } catch (error) {
          if ((error as { message?: string }).message !== optimisticConflict) throw asBalanceViolation(error);
          await client.query('ROLLBACK');
          open = false;
        }
      }

      let secondTripPrefix: string[] = [];
      if (firstTrip.length === 1) {
        secondTripPrefix = ['BEGIN'];
      } else {
        // Open before sending: if any statement after BEGIN fails, the transaction must be rolled back
        // before the connection goes back to the pool (an aborted transaction would poison its next user).
        open = true;
        const answers = asArray(await client.query(firstTrip.join(';\n')));
        guardTables.forEach((table, t) => {
          const rows = answers[1 + t]!.rows as { id: string; version: number }[];
          const versions = new Map(rows.map((r) => [r.id, r.version]));
          const taken = new Set<string>();
          for (const { unit, guard } of guardsByTable.get(table)!) {
            if (!alive(unit)) continue;
            // Two units of one batch that read the same version: only the first may apply. A unit that
            // lost one guard keeps the others it took, so a later unit guarding that row also loses and
            // retries — a spurious conflict, never a wrong write.
            if (versions.get(guard.id) !== guard.version || taken.has(guard.id)) {
              results[unit] = { ok: false, reason: 'version_conflict', table, id: guard.id };
            } else taken.add(guard.id);
          }
        });
        claimGroups.forEach((entries, g) => {
          const { conflictColumns } = entries[0]!.claim;
          const inserted = answers[1 + guardTables.length + g]!.rows as Row[];
          const won = new Set(inserted.map((r) => conflictColumns.map((c) => String(r[c])).join('\u0000')));
          for (const e of entries) {
            if (!won.has(e.key)) {
              if (alive(e.unit)) results[e.unit] = { ok: false, reason: 'claim_taken' };
            } else if (!alive(e.unit)) {
              // Claimed in this transaction by a unit that lost a guard: give the key back.
              const where = conflictColumns.map((c) => `${ident(c)} = ${literal(types, e.claim.table, c, e.claim.row[c])}`).join(' AND ');
              secondTripPrefix.push(`DELETE FROM ${ident(e.claim.table)} WHERE ${where}`);
            }
          }
        });
      }

      const live = units.filter((_, i) => alive(i));
      const secondTrip = [...secondTripPrefix, ...this.#writeStatements(types, live)];
      secondTrip.push('COMMIT');
      open = true;
      try {
        await client.query(secondTrip.join(';\n'));
      } catch (error) {
        throw asBalanceViolation(error);
      }
      open = false;
      return results;
    } catch (error) {
      if (open) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** The statements that write the live units: inserts if absent, inserts, updates, balances and their check. */
  #writeStatements(types: ColumnTypes, live: readonly WriteSet[]): string[] {
    const statements: string[] = [];

    // Rows that may already exist (ledger accounts): insert, ignore conflicts; sorted to keep lock order.
    const ifAbsent = groupBy(live.flatMap((u) => u.insertsIfAbsent ?? []), (c) => `${c.table}|${c.conflictColumns.join(',')}`);
    for (const claims of ifAbsent.values()) {
      const { table, conflictColumns } = claims[0]!;
      const unique = new Map<string, Row>();
      for (const c of claims) unique.set(conflictColumns.map((col) => String(c.row[col])).join('\u0000'), c.row);
      const rows = [...unique.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row);
      statements.push(insertSql(types, table, rows, { conflictColumns, returning: [] }));
    }

    // New rows, table by table in foreign-key order.
    // Rows are grouped by their columns as listed (rows built by one piece of code list them in one
    // order); a group's statement sorts them once.
    const insertsByTable = groupBy(live.flatMap((u) => u.inserts ?? []), (ins) => ins.table);
    const unordered = [...insertsByTable.keys()].find((table) => !tableOrder.includes(table as TableName));
    if (unordered) throw new AssertionError(`the write batcher does not insert into ${unordered}: add it to tableOrder`);
    for (const table of tableOrder) {
      const rows = (insertsByTable.get(table) ?? []).map((ins) => ins.row);
      for (const group of groupBy(rows, (r) => Object.keys(r).join(',')).values()) {
        statements.push(insertSql(types, table, group, { returning: [] }));
      }
    }

    // Updates, grouped by table, key columns and set columns.
    const updates = live.flatMap((u) => u.updates ?? []);
    const updateGroups = groupBy(updates, (u) => `${u.table}|${Object.keys(u.key).join(',')}|${Object.keys(u.set).join(',')}`);
    for (const group of [...updateGroups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, g]) => g)) {
      statements.push(updateSql(types, group));
    }

    // Balances: one upsert per (account, bucket), sorted, then the non-negative check.
    const deltas = live.flatMap((u) => u.balanceDeltas ?? []);
    let guardedAccounts: string[] = [];
    if (deltas.length > 0) {
      const bucket = this.#batchSeq++ % ledgerBucketCount;
      const byAccount = new Map<string, { dp: bigint; dP: bigint; cp: bigint; cP: bigint; nonNegative: boolean; merchantId: string | null }>();
      for (const d of deltas) {
        const sum = byAccount.get(d.accountId) ?? { dp: 0n, dP: 0n, cp: 0n, cP: 0n, nonNegative: false, merchantId: d.merchantId };
        sum.dp += d.debitsPending;
        sum.dP += d.debitsPosted;
        sum.cp += d.creditsPending;
        sum.cP += d.creditsPosted;
        sum.nonNegative ||= d.nonNegative;
        byAccount.set(d.accountId, sum);
      }
      const accountIds = [...byAccount.keys()].sort();
      // Only a batch that lowers a non-negative account's available amount (posted credits − posted
      // debits − pending debits) can break the rule; a batch that only raises it (payments: charge in,
      // fee out) cannot, and takes no lock beyond its own bucket row.
      const lowers = (s: { dp: bigint; dP: bigint; cP: bigint }) => s.cP - s.dP - s.dp < 0n;
      guardedAccounts = accountIds.filter((id) => byAccount.get(id)!.nonNegative && lowers(byAccount.get(id)!));
      const guardedList = guardedAccounts.map((id) => quote(id)).join(', ');
      // Lock every existing bucket of each account this batch lowers, in one global order and before
      // writing any bucket, so batches that lower one account queue here and the check sees every debit
      // committed before it. (Locking after the upsert let two batches each hold their own bucket while
      // waiting for the other's: a deadlock.) Batches that only raise an account upsert one bucket row
      // in sorted order and can wait behind a lowering batch, never in a cycle with it.
      if (guardedAccounts.length > 0) {
        statements.push(`SELECT 1 FROM ledger_account_buckets WHERE account_id IN (${guardedList}) ORDER BY account_id, bucket FOR UPDATE`);
      }
      const values = accountIds
        .map((id) => {
          const s = byAccount.get(id)!;
          return `(${quote(id)}, ${s.merchantId === null ? 'NULL' : quote(s.merchantId)}, ${bucket}::int2, ${s.dp}::int8, ${s.dP}::int8, ${s.cp}::int8, ${s.cP}::int8)`;
        })
        .join(', ');
      statements.push(
        `INSERT INTO ledger_account_buckets AS b (account_id, merchant_id, bucket, debits_pending, debits_posted, credits_pending, credits_posted)
         VALUES ${values}
         ON CONFLICT (account_id, bucket) DO UPDATE SET
           debits_pending = b.debits_pending + excluded.debits_pending,
           debits_posted = b.debits_posted + excluded.debits_posted,
           credits_pending = b.credits_pending + excluded.credits_pending,
           credits_posted = b.credits_posted + excluded.credits_posted`,
      );
      if (guardedAccounts.length > 0) {
        // Raises (and so aborts the transaction before COMMIT) naming the accounts that would overdraw.
        statements.push(`DO $fenpay_check$ DECLARE short text; BEGIN
           SELECT string_agg(account_id, ',') INTO short FROM (
             SELECT account_id FROM ledger_account_buckets WHERE account_id IN (${guardedList})
              GROUP BY account_id HAVING sum(debits_posted + debits_pending) > sum(credits_posted)) s;
           IF short IS NOT NULL THEN RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = '${balanceViolation}', DETAIL = short; END IF;
         END $fenpay_check$`);
      }
    }
    return statements;
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

const optimisticConflict = 'fenpay_optimistic_conflict';
const balanceViolation = 'fenpay_balance_violation';

/** PostgreSQL's report of the non-negative check as a BalanceViolation naming the short accounts; any other error as is. */
function asBalanceViolation(error: unknown): unknown {
  const e = error as { message?: string; detail?: string };
  return e.message === balanceViolation && e.detail ? new BalanceViolation(new Set(e.detail.split(','))) : error;
}

/**
 * The DO block of a one-trip batch: per guarded table (in table order), lock the guarded rows in id
 * order and count those still at the version read; per claim group, insert the claims and count the
 * ones won. Any shortfall raises `fenpay_optimistic_conflict`.
 */
function optimisticCheck(
  types: ColumnTypes,
  guardsPerTable: readonly (readonly { guard: Guard }[])[],
  claimGroups: readonly (readonly { claim: Claim }[])[],
): string {
  const raise = (expected: number) => `IF fenpay_n <> ${expected} THEN RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = '${optimisticConflict}'; END IF`;
  const steps: string[] = [];
  for (const entries of guardsPerTable) {
    if (entries.length === 0) continue;
    const table = entries[0]!.guard.table;
    const ids = entries.map((e) => e.guard.id).sort();
    const expected = entries.map((e) => {
      if (!Number.isSafeInteger(e.guard.version)) throw new AssertionError(`guard version of ${e.guard.id} is not an integer`);
      return `(${quote(e.guard.id)}, ${e.guard.version})`;
    });
    steps.push(
      `SELECT count(*) INTO fenpay_n FROM (SELECT id, version FROM ${ident(table)} WHERE id IN (${ids.map((id) => quote(id)).join(', ')}) ORDER BY id FOR UPDATE) s WHERE (s.id, s.version) IN (${expected.join(', ')})`,
      raise(entries.length),
    );
  }
  for (const entries of claimGroups) {
    const { table, conflictColumns } = entries[0]!.claim;
    steps.push(
      `WITH won AS (${insertSql(types, table, entries.map((e) => e.claim.row), { conflictColumns, returning: conflictColumns })}) SELECT count(*) INTO fenpay_n FROM won`,
      raise(entries.length),
    );
  }
  return `DO ${dollarQuote(`DECLARE fenpay_n bigint; BEGIN\n${steps.join(';\n')};\nEND`)}`;
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

function asArray(result: pg.QueryResult | pg.QueryResult[]): pg.QueryResult[] {
  return Array.isArray(result) ? result : [result];
}

type Encoder = (value: unknown) => string;

/**
 * The literal encoder of one column: a value as a SQL literal for the column's type. Strings are quoted
 * by `quote` (JSON documents by `dollarQuote`); numbers and booleans are checked to be what they claim
 * before being written out, so nothing a request sends can change the statement. Looked up once per
 * column of a statement, not per value. `typed` adds an explicit cast, which a literal needs where
 * PostgreSQL cannot tell its type from where it goes (a VALUES list joined in an UPDATE, a comparison);
 * in an INSERT's VALUES each literal is read straight into its target column's type, and a cast would
 * only be one more node per value to parse and analyse.
 */
function encoderFor(types: ColumnTypes, table: string, column: string, typed = true): Encoder {
  const udt = types.get(table)?.get(column);
  if (udt === undefined) throw new AssertionError(`unknown column ${table}.${column}`);
  const suffix = (cast: string) => (typed ? `::${cast}` : '');
  const nullLiteral = `NULL${suffix(castOf(udt))}`;
  const encode = ((): Encoder => {
    switch (udt) {
      case 'text':
        return (value) => {
          if (typeof value !== 'string') throw new AssertionError(`${table}.${column} expects a string`);
          return quote(value);
        };
      case 'int2':
      case 'int4':
      case 'int8': {
        const cast = suffix(udt);
        return (value) => {
          if (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))) return `${value.toString()}${cast}`;
          throw new AssertionError(`${table}.${column} expects an integer`);
        };
      }
      case 'bool':
        return (value) => {
          if (typeof value !== 'boolean') throw new AssertionError(`${table}.${column} expects a boolean`);
          return value ? 'true' : 'false';
        };
      case 'timestamptz': {
        const cast = suffix('timestamptz');
        return (value) => {
          const date = value instanceof Date ? value : new Date(value as string);
          if (Number.isNaN(date.getTime())) throw new AssertionError(`${table}.${column} expects a timestamp`);
          return `'${date.toISOString()}'${cast}`;
        };
      }
      case 'jsonb':
      case 'json': {
        const cast = suffix(udt);
        return (value) => `${dollarQuote(JSON.stringify(value))}${cast}`;
      }
      case '_text':
        return (value) => {
          if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new AssertionError(`${table}.${column} expects a list of strings`);
          return value.length === 0 ? `'{}'::text[]` : `ARRAY[${value.map((v: string) => quote(v)).join(', ')}]::text[]`;
        };
      case 'bytea': {
        const cast = suffix('bytea');
        return (value) => {
          if (!Buffer.isBuffer(value)) throw new AssertionError(`${table}.${column} expects bytes`);
          return `'\\x${value.toString('hex')}'${cast}`;
        };
      }
      default:
        throw new AssertionError(`no literal encoding for ${table}.${column} (${udt})`);
    }
  })();
  return (value) => (value === null || value === undefined ? nullLiteral : encode(value));
}

function literal(types: ColumnTypes, table: string, column: string, value: unknown): string {
  return encoderFor(types, table, column)(value);
}

const needsEscape = /[\\'\u0000]/;

/**
 * A string as a literal that means exactly itself whatever standard_conforming_strings is: as is in
 * plain quotes when it holds no quote or backslash (ids, codes, timestamps: one scan), otherwise an
 * escape-string literal with backslashes and quotes doubled. NUL cannot occur: the HTTP layer refuses
 * it and PostgreSQL text cannot hold it.
 */
export function quote(text: string): string {
  if (!needsEscape.test(text)) return `'${text}'`;
  if (text.includes('\u0000')) throw new AssertionError('a NUL character cannot be stored in text');
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/**
 * A long string (a JSON document) as a dollar-quoted literal: no escaping, so ~10 kB of JSON per
 * payment is scanned for the tag instead of rewritten twice. The tag is one that first occurs
 * where the literal ends, so the text cannot end it early.
 */
export function dollarQuote(text: string): string {
  if (text.includes('\u0000')) throw new AssertionError('a NUL character cannot be stored in text');
  // The first occurrence of the tag in text + tag must be the closing one: a text ending in `$fenpay`
  // would otherwise close the literal one character early.
  for (let n = 0; ; n++) {
    const tag = n === 0 ? '$fenpay$' : `$fenpay${n}$`;
    const quoted = `${tag}${text}${tag}`;
    if (quoted.indexOf(tag, tag.length) === quoted.length - tag.length) return quoted;
  }
}

function castOf(udt: string): string {
  return udt === '_text' ? 'text[]' : udt;
}

function insertSql(
  types: ColumnTypes,
  table: TableName,
  rows: readonly Row[],
  options: { conflictColumns?: readonly string[]; returning: readonly string[] },
): string {
  const columns = Object.keys(rows[0]!).sort();
  // Untyped literals: each is read straight into its target column's type.
  const encoders = columns.map((c) => encoderFor(types, table, c, false));
  const values = rows.map((row) => `(${columns.map((c, i) => encoders[i]!(row[c])).join(', ')})`).join(',\n');
  let text = `INSERT INTO ${ident(table)} (${columns.map(ident).join(', ')}) VALUES ${values}`;
  if (options.conflictColumns) text += ` ON CONFLICT (${options.conflictColumns.map(ident).join(', ')}) DO NOTHING`;
  if (options.returning.length > 0) text += ` RETURNING ${options.returning.map(ident).join(', ')}`;
  return text;
}

function updateSql(types: ColumnTypes, updates: readonly RowUpdate[]): string {
  const first = updates[0]!;
  const table = first.table;
  const keyColumns = Object.keys(first.key).sort();
  const setColumns = Object.keys(first.set).sort();
  const columns = [...keyColumns, ...setColumns];
  const encoders = columns.map((c) => encoderFor(types, table, c));
  const values = updates
    .map((u) => `(${columns.map((c, i) => encoders[i]!(c in u.key ? u.key[c] : u.set[c])).join(', ')})`)
    .join(',\n');
  const aliases = columns.map((_, i) => `c${i}`);
  const assignments = setColumns.map((c, j) => `${ident(c)} = v.${aliases[keyColumns.length + j]}`).join(', ');
  const where = keyColumns.map((c, i) => `t.${ident(c)} = v.${aliases[i]}`).join(' AND ');
  return `UPDATE ${ident(table)} AS t SET ${assignments} FROM (VALUES ${values}) AS v(${aliases.join(', ')}) WHERE ${where}`;
}
