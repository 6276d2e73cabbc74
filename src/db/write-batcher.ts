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
import { BatchStatements, balanceViolation, optimisticConflict } from './batch-statements.ts';
import { BinaryWriter } from './pg-binary.ts';
import { PrepareFailed, runPipeline, type Statement } from './pipeline.ts';
import type { Claim, Guard, Row, TableName, WriteResult, WriteSet } from './write-set.ts';

export type { TableName, Row, Guard, Claim, RowUpdate, BalanceDelta, WriteSet, WriteRejection, WriteResult } from './write-set.ts';

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
  #statements: Promise<BatchStatements> | undefined;
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
   * One batch in one round trip to PostgreSQL, or two when a guard or claim loses. A round trip is one
   * message of prepared statements with binary array parameters and one Sync (pipeline.ts):
   *   one trip (implicit transaction, committed at the Sync): check and lock guards, take claims
   *     (raising on a loss), then the writes
   *   after a loss, round trip 1: BEGIN; lock guarded rows; insert claims (RETURNING the ones won)
   *   round trip 2: give back claims of units that lost a guard; the writes; COMMIT
   */
  async #execute(units: WriteSet[]): Promise<WriteResult[]> {
    const statements = await this.#loadStatements();
    const results: WriteResult[] = units.map(() => ({ ok: true }));
    const alive = (i: number) => results[i]!.ok;

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
        const key = claim.conflictColumns.map((c) => statements.textForm(claim.table, c, claim.row[c])).join('\u0000');
        const scoped = `${claim.table}\u0000${key}`;
        // Two units of one batch claiming one key: the first may win, the second has lost.
        if (seenClaims.has(scoped)) {
          results[i] = { ok: false, reason: 'claim_taken' };
          continue;
        }
        seenClaims.add(scoped);
        const groupKey = `${claim.table}|${claim.conflictColumns.join(',')}|${Object.keys(claim.row).join(',')}`;
        const list = claimsByTable.get(groupKey) ?? [];
        list.push({ unit: i, claim, key });
        claimsByTable.set(groupKey, list);
      }
    });
    const claimGroups = [...claimsByTable.values()]
      .map((entries) => entries.filter((e) => alive(e.unit)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)))
      .filter((entries) => entries.length > 0);
    const liveGuards = (table: TableName) => guardsByTable.get(table)!.filter((e) => alive(e.unit));
    // Two units of the batch guarding one row always take the two-trip path: only one of them may apply.
    const guardRepeats = guardTables.some((table) => {
      const ids = liveGuards(table).map((e) => e.guard.id);
      return new Set(ids).size !== ids.length;
    });

    const client = await this.#pool.connect();
    let broken = false;
    let open = false;
    try {
      if (!guardRepeats) {
        // One trip when nothing is expected to lose. A raise rolls the implicit transaction back before
        // anything commits; then the batch takes the two-trip path, which finds out which units lost.
        const writer = new BinaryWriter();
        const checks: Statement[] = [];
        for (const table of guardTables) {
          const guards = liveGuards(table).map((e) => e.guard);
          for (const g of guards) if (!Number.isSafeInteger(g.version)) throw new AssertionError(`guard version of ${g.id} is not an integer`);
          checks.push(statements.checkVersions(writer, table, [...guards].sort((a, b) => (a.id < b.id ? -1 : 1))));
        }
        for (const entries of claimGroups) {
          const { table, conflictColumns } = entries[0]!.claim;
          checks.push(statements.insertAll(writer, table, entries.map((e) => e.claim.row), conflictColumns));
        }
        const all = [...checks, ...this.#writeStatements(statements, writer, units.filter((_, i) => alive(i)))];
        if (all.length === 0) return results;
        try {
          await runPipeline(client, all);
          return results;
        } catch (error) {
          if ((error as { message?: string }).message !== optimisticConflict) throw asBalanceViolation(error);
        }
      }

      // Round trip 1: lock the guarded rows and take the claims, inside a transaction kept open.
      const writer = new BinaryWriter();
      const firstTrip: Statement[] = [begin];
      for (const table of guardTables) {
        const ids = [...new Set(liveGuards(table).map((e) => e.guard.id))].sort();
        firstTrip.push(statements.lockVersions(writer, table, ids));
      }
      for (const entries of claimGroups) {
        const { table, conflictColumns } = entries[0]!.claim;
        firstTrip.push(statements.insert(writer, table, entries.map((e) => e.claim.row), { conflictColumns, returning: conflictColumns }));
      }
      // Open before sending: if any statement after BEGIN fails, the transaction must be rolled back
      // before the connection goes back to the pool (an aborted transaction would poison its next user).
      open = true;
      const answers = await runPipeline(client, firstTrip);
      guardTables.forEach((table, t) => {
        const versions = new Map(answers[1 + t]!.rows.map((r) => [r[0]!, Number(r[1])]));
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
      const giveBack = new Map<TableName, Row[]>();
      claimGroups.forEach((entries, g) => {
        const { conflictColumns } = entries[0]!.claim;
        const won = new Set(answers[1 + guardTables.length + g]!.rows.map((r) => r.join('\u0000')));
        for (const e of entries) {
          if (!won.has(e.key)) {
            if (alive(e.unit)) results[e.unit] = { ok: false, reason: 'claim_taken' };
          } else if (!alive(e.unit)) {
            // Claimed in this transaction by a unit that lost a guard: give the key back.
            const keyRow: Row = {};
            for (const c of conflictColumns) keyRow[c] = e.claim.row[c];
            const list = giveBack.get(e.claim.table) ?? [];
            list.push(keyRow);
            giveBack.set(e.claim.table, list);
          }
        }
      });

      const secondTrip: Statement[] = [];
      for (const [table, keys] of giveBack) secondTrip.push(statements.deleteWhere(writer, table, keys));
      secondTrip.push(...this.#writeStatements(statements, writer, units.filter((_, i) => alive(i))), commit);
      try {
        await runPipeline(client, secondTrip);
      } catch (error) {
        throw asBalanceViolation(error);
      }
      open = false;
      return results;
    } catch (error) {
      if (error instanceof PrepareFailed) {
        // Which statements of the failed message were prepared is unknown: this session cannot be reused.
        broken = true;
        throw error.original;
      }
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
  #writeStatements(statements: BatchStatements, writer: BinaryWriter, live: readonly WriteSet[]): Statement[] {
    const out: Statement[] = [];

    // Rows that may already exist (ledger accounts): insert, ignore conflicts; sorted to keep lock order.
    const ifAbsent = groupBy(live.flatMap((u) => u.insertsIfAbsent ?? []), (c) => `${c.table}|${c.conflictColumns.join(',')}|${Object.keys(c.row).join(',')}`);
    for (const claims of ifAbsent.values()) {
      const { table, conflictColumns } = claims[0]!;
      const unique = new Map<string, Row>();
      for (const c of claims) unique.set(conflictColumns.map((col) => String(c.row[col])).join('\u0000'), c.row);
      const rows = [...unique.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row);
      out.push(statements.insert(writer, table, rows, { conflictColumns }));
    }

    // New rows, table by table in foreign-key order. Rows are grouped by their columns as listed (rows
    // built by one piece of code list them in one order); a group's statement sorts them once.
    const insertsByTable = groupBy(live.flatMap((u) => u.inserts ?? []), (ins) => ins.table);
    const unordered = [...insertsByTable.keys()].find((table) => !tableOrder.includes(table as TableName));
    if (unordered) throw new AssertionError(`the write batcher does not insert into ${unordered}: add it to tableOrder`);
    for (const table of tableOrder) {
      const rows = (insertsByTable.get(table) ?? []).map((ins) => ins.row);
      for (const group of groupBy(rows, (r) => Object.keys(r).join(',')).values()) {
        out.push(statements.insert(writer, table, group));
      }
    }

    // Updates, grouped by table, key columns and set columns.
    const updates = live.flatMap((u) => u.updates ?? []);
    const updateGroups = groupBy(updates, (u) => `${u.table}|${Object.keys(u.key).join(',')}|${Object.keys(u.set).join(',')}`);
    for (const group of [...updateGroups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, g]) => g)) {
      out.push(statements.update(writer, group[0]!.table, group));
    }

    // Balances: one upsert per (account, bucket), sorted, then the non-negative check.
    const deltas = live.flatMap((u) => u.balanceDeltas ?? []);
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
      const guardedAccounts = accountIds.filter((id) => byAccount.get(id)!.nonNegative && lowers(byAccount.get(id)!));
      // Lock every existing bucket of each account this batch lowers, in one global order and before
      // writing any bucket, so batches that lower one account queue here and the check sees every debit
      // committed before it. (Locking after the upsert let two batches each hold their own bucket while
      // waiting for the other's: a deadlock.) Batches that only raise an account upsert one bucket row
      // in sorted order and can wait behind a lowering batch, never in a cycle with it.
      if (guardedAccounts.length > 0) out.push(statements.lockBuckets(writer, guardedAccounts));
      out.push(
        statements.addToBuckets(
          writer,
          accountIds.map((id) => {
            const s = byAccount.get(id)!;
            return { accountId: id, merchantId: s.merchantId, bucket, debitsPending: s.dp, debitsPosted: s.dP, creditsPending: s.cp, creditsPosted: s.cP };
          }),
        ),
      );
      // Raises (and so aborts the transaction before it commits) naming the accounts that would overdraw.
      if (guardedAccounts.length > 0) out.push(statements.checkBalances(writer, guardedAccounts));
    }
    return out;
  }

  #loadStatements(): Promise<BatchStatements> {
    this.#statements ??= (async () => {
      const result = await this.#pool.query<{ table_name: string; column_name: string; udt_name: string }>(
        `SELECT table_name, column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema()`,
      );
      const map = new Map<string, Map<string, string>>();
      for (const r of result.rows) {
        const columns = map.get(r.table_name) ?? new Map<string, string>();
        columns.set(r.column_name, r.udt_name);
        map.set(r.table_name, columns);
      }
      return new BatchStatements(map);
    })();
    this.#statements.catch(() => (this.#statements = undefined));
    return this.#statements;
  }
}

const begin: Statement = { text: 'BEGIN', values: [] };
const commit: Statement = { text: 'COMMIT', values: [] };

/** PostgreSQL's report of the non-negative check as a BalanceViolation naming the short accounts; any other error as is. */
function asBalanceViolation(error: unknown): unknown {
  const e = error as { message?: string; detail?: string };
  return e.message === balanceViolation && e.detail ? new BalanceViolation(new Set(e.detail.split(','))) : error;
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
