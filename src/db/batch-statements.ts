/**
 * The write batcher's statements. Each has a fixed text per shape (table, columns, options) and takes
 * one binary array parameter per column, so a shape is prepared once per connection however many
 * rows a batch has (see pipeline.ts, pg-binary.ts):
 *
 *   INSERT INTO t (a, b) SELECT u.c0, u.c1 FROM (SELECT unnest($1::text[]) AS c0, unnest($2::int8[]) AS c1) AS u
 *   UPDATE t SET b = v.c1 FROM (SELECT unnest($1::text[]) AS c0, unnest($2::int8[]) AS c1) AS v WHERE t.a = v.c0
 *
 * Checks that must abort the transaction call fenpay_raise_if (migration 0011).
 */
import { AssertionError } from '../kernel/index.ts';
import { BinaryWriter, codecFor, columnArray, type ColumnCodec } from './pg-binary.ts';
import type { Statement } from './pipeline.ts';
import type { Row, RowUpdate, TableName } from './write-set.ts';

/** table → column → udt_name, from information_schema.columns. */
export type ColumnTypes = ReadonlyMap<string, ReadonlyMap<string, string>>;

export const optimisticConflict = 'fenpay_optimistic_conflict';
export const balanceViolation = 'fenpay_balance_violation';

interface Shape {
  readonly table: string;
  readonly text: string;
  readonly columns: readonly string[];
  readonly codecs: readonly ColumnCodec[];
}

export interface BalanceRow {
  readonly accountId: string;
  readonly merchantId: string | null;
  readonly bucket: number;
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
}

export class BatchStatements {
  readonly #types: ColumnTypes;
  readonly #shapes = new Map<string, Shape>();

  constructor(types: ColumnTypes) {
    this.#types = types;
  }

  /** The udt of a column; an unknown table or column is a bug. */
  udt(table: string, column: string): string {
    const udt = this.#types.get(table)?.get(column);
    if (udt === undefined) throw new AssertionError(`unknown column ${table}.${column}`);
    return udt;
  }

  /** A value as PostgreSQL prints it in a text-format result row (to match RETURNING rows to units). */
  textForm(table: string, column: string, value: unknown): string {
    const udt = this.udt(table, column);
    if (udt === 'bool') return value ? 't' : 'f';
    if (udt === 'text' || udt === 'varchar' || udt === 'int2' || udt === 'int4' || udt === 'int8') return String(value);
    throw new AssertionError(`${table}.${column} (${udt}) cannot be a conflict column`);
  }

  /** The shape of `key`, made once: its parameters are `columns` of `table`, its text built from their codecs. */
  #shape(key: string, table: string, columns: readonly string[], text: (codecs: readonly ColumnCodec[]) => string): Shape {
    let shape = this.#shapes.get(key);
    if (!shape) {
      const codecs = columns.map((c) => codecFor(this.udt(table, c), `${table}.${c}`));
      shape = { table, text: text(codecs), columns, codecs };
      this.#shapes.set(key, shape);
    }
    return shape;
  }

  /** A statement of `shape` whose parameters are the given values, one list per column. */
  #bind(writer: BinaryWriter, shape: Shape, columnValues: readonly (readonly unknown[])[]): Statement {
    return {
      text: shape.text,
      values: shape.columns.map((column, i) => columnArray(writer, shape.codecs[i]!, columnValues[i]!, `${shape.table}.${column}`)),
    };
  }

  /** A statement of `shape` whose parameters are the rows' values of its columns. */
  #bindRows(writer: BinaryWriter, shape: Shape, rows: readonly Row[]): Statement {
    return this.#bind(writer, shape, shape.columns.map((column) => rows.map((row) => row[column])));
  }

  /**
   * Inserts rows that all have the same columns. With `conflictColumns`, rows that conflict are
   * skipped; `returning` lists the columns of the rows actually inserted.
   */
  insert(writer: BinaryWriter, table: TableName, rows: readonly Row[], options: { conflictColumns?: readonly string[]; returning?: readonly string[] } = {}): Statement {
    const columns = Object.keys(rows[0]!).sort();
    const conflict = options.conflictColumns ?? [];
    const returning = options.returning ?? [];
    const shape = this.#shape(`insert|${table}|${columns.join(',')}|${conflict.join(',')}|${returning.join(',')}`, table, columns, (codecs) =>
      insertText(table, columns, codecs, conflict, returning),
    );
    return this.#bindRows(writer, shape, rows);
  }

  /** As `insert` with conflicts skipped, raising `fenpay_optimistic_conflict` unless every row was inserted. */
  insertAll(writer: BinaryWriter, table: TableName, rows: readonly Row[], conflictColumns: readonly string[]): Statement {
    const columns = Object.keys(rows[0]!).sort();
    const shape = this.#shape(`insert-all|${table}|${columns.join(',')}|${conflictColumns.join(',')}`, table, columns, (codecs) =>
      `WITH won AS (${insertText(table, columns, codecs, conflictColumns, [conflictColumns[0]!])}) ` +
      `SELECT fenpay_raise_if((SELECT count(*) FROM won) <> cardinality($1::${codecs[0]!.arrayType}), '${optimisticConflict}')`,
    );
    return this.#bindRows(writer, shape, rows);
  }

  /** Deletes the rows whose `columns` equal one of `keys` (idempotency claims given back). */
  deleteWhere(writer: BinaryWriter, table: TableName, keys: readonly Row[]): Statement {
    const columns = Object.keys(keys[0]!).sort();
    const shape = this.#shape(`delete|${table}|${columns.join(',')}`, table, columns, (codecs) =>
      `DELETE FROM ${ident(table)} AS t USING ${unnestFrom(codecs, 'd')} WHERE ${columns.map((c, i) => `t.${ident(c)} = d.c${i}`).join(' AND ')}`,
    );
    return this.#bindRows(writer, shape, keys);
  }

  /** Updates rows that all have the same key and set columns; each update names its row by `key`. */
  update(writer: BinaryWriter, table: TableName, updates: readonly RowUpdate[]): Statement {
    const first = updates[0]!;
    const keyColumns = Object.keys(first.key).sort();
    const setColumns = Object.keys(first.set).sort();
    const columns = [...keyColumns, ...setColumns];
    const shape = this.#shape(`update|${table}|${keyColumns.join(',')}|${setColumns.join(',')}`, table, columns, (codecs) => {
      const assignments = setColumns.map((c, j) => `${ident(c)} = v.c${keyColumns.length + j}${codecs[keyColumns.length + j]!.cast}`).join(', ');
      const where = keyColumns.map((c, i) => `t.${ident(c)} = v.c${i}`).join(' AND ');
      return `UPDATE ${ident(table)} AS t SET ${assignments} FROM ${unnestFrom(codecs, 'v')} WHERE ${where}`;
    });
    return this.#bind(writer, shape, columns.map((c) => updates.map((u) => (c in u.key ? u.key[c] : u.set[c]))));
  }

  /**
   * Locks the rows `ids` of a versioned table in id order and raises `fenpay_optimistic_conflict`
   * unless each is still at its given version. Ids must be distinct.
   */
  checkVersions(writer: BinaryWriter, table: TableName, guards: readonly { id: string; version: number }[]): Statement {
    const shape = this.#shape(`check-versions|${table}`, table, ['id', 'version'], () =>
      `SELECT fenpay_raise_if(count(*) <> cardinality($1::text[]), '${optimisticConflict}') FROM (` +
      `SELECT t.id FROM ${ident(table)} AS t JOIN (SELECT unnest($1::text[]) AS id, unnest($2::int4[]) AS version) AS g ON t.id = g.id AND t.version = g.version ` +
      `ORDER BY t.id FOR UPDATE OF t) AS locked`,
    );
    return this.#bind(writer, shape, [guards.map((g) => g.id), guards.map((g) => g.version)]);
  }

  /** Locks the rows `ids` in id order and returns each one's id and version (the two-trip path). */
  lockVersions(writer: BinaryWriter, table: TableName, ids: readonly string[]): Statement {
    const shape = this.#shape(`lock-versions|${table}`, table, ['id'], () => `SELECT t.id, t.version FROM ${ident(table)} AS t WHERE t.id = ANY($1::text[]) ORDER BY t.id FOR UPDATE`);
    return this.#bind(writer, shape, [ids]);
  }

  /** Locks every bucket of the accounts, in one global order, before any bucket is written. */
  lockBuckets(writer: BinaryWriter, accountIds: readonly string[]): Statement {
    const shape = this.#shape('lock-buckets', 'ledger_account_buckets', ['account_id'], () => `SELECT 1 FROM ledger_account_buckets WHERE account_id = ANY($1::text[]) ORDER BY account_id, bucket FOR UPDATE`);
    return this.#bind(writer, shape, [accountIds]);
  }

  /** Adds each account's deltas to its row of one bucket (created at zero when absent). */
  addToBuckets(writer: BinaryWriter, rows: readonly BalanceRow[]): Statement {
    const columns = ['account_id', 'merchant_id', 'bucket', 'debits_pending', 'debits_posted', 'credits_pending', 'credits_posted'];
    const shape = this.#shape('add-to-buckets', 'ledger_account_buckets', columns, (codecs) =>
      `INSERT INTO ledger_account_buckets AS b (${columns.join(', ')}) SELECT * FROM ${unnestFrom(codecs, 'u')} ` +
      `ON CONFLICT (account_id, bucket) DO UPDATE SET
         debits_pending = b.debits_pending + excluded.debits_pending,
         debits_posted = b.debits_posted + excluded.debits_posted,
         credits_pending = b.credits_pending + excluded.credits_pending,
         credits_posted = b.credits_posted + excluded.credits_posted`,
    );
    return this.#bind(writer, shape, [
      rows.map((r) => r.accountId),
      rows.map((r) => r.merchantId),
      rows.map((r) => r.bucket),
      rows.map((r) => r.debitsPending),
      rows.map((r) => r.debitsPosted),
      rows.map((r) => r.creditsPending),
      rows.map((r) => r.creditsPosted),
    ]);
  }

  /** Raises `fenpay_balance_violation`, naming them in its detail, when any of the accounts has debits above its credits. */
  checkBalances(writer: BinaryWriter, accountIds: readonly string[]): Statement {
    const shape = this.#shape('check-balances', 'ledger_account_buckets', ['account_id'], () =>
      `SELECT fenpay_raise_if(short IS NOT NULL, '${balanceViolation}', short) FROM (` +
      `SELECT string_agg(account_id, ',') AS short FROM (` +
      `SELECT account_id FROM ledger_account_buckets WHERE account_id = ANY($1::text[]) ` +
      `GROUP BY account_id HAVING sum(debits_posted + debits_pending) > sum(credits_posted)) AS s) AS x`,
    );
    return this.#bind(writer, shape, [accountIds]);
  }

}

function insertText(table: string, columns: readonly string[], codecs: readonly ColumnCodec[], conflict: readonly string[], returning: readonly string[]): string {
  const selectList = codecs.map((codec, i) => `u.c${i}${codec.cast}`).join(', ');
  let text = `INSERT INTO ${ident(table)} (${columns.map(ident).join(', ')}) SELECT ${selectList} FROM ${unnestFrom(codecs, 'u')}`;
  if (conflict.length > 0) text += ` ON CONFLICT (${conflict.map(ident).join(', ')}) DO NOTHING`;
  if (returning.length > 0) text += ` RETURNING ${returning.map(ident).join(', ')}`;
  return text;
}

/**
 * `(SELECT unnest($1::text[]) AS c0, unnest($2::int8[]) AS c1) AS alias`: the columns' parameter
 * arrays as rows. Set-returning functions in a select list are evaluated in step and stream row by
 * row (ProjectSet); `unnest(a, b)` in FROM would first copy every row into a tuplestore.
 */
function unnestFrom(codecs: readonly ColumnCodec[], alias: string): string {
  return `(SELECT ${codecs.map((codec, i) => `unnest($${i + 1}::${codec.arrayType}) AS c${i}`).join(', ')}) AS ${alias}`;
}

export function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new AssertionError(`bad identifier ${name}`);
  return `"${name}"`;
}
