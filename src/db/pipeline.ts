/**
 * Several prepared statements in one message and one round trip: Bind and Execute for each, then a
 * single Sync (PostgreSQL's extended query protocol, "Pipelining"). Statements are prepared once per
 * connection and then only bound, so PostgreSQL parses, analyses and plans each statement shape once
 * per session instead of once per batch; parameters travel in binary (see pg-binary.ts).
 *
 * What the protocol guarantees and this relies on:
 * - Without an explicit BEGIN, everything up to the Sync is one implicit transaction, committed at
 *   the Sync (and, with synchronous_commit on, durable before ReadyForQuery arrives).
 * - After an error the server skips every message up to the Sync, so the first failing statement
 *   ends the batch; an implicit transaction is rolled back, an explicit one is left aborted.
 */
import type pg from 'pg';
import { AssertionError } from '../kernel/index.ts';

export interface Statement {
  readonly text: string;
  /** Binary values (Buffers) or text; null is SQL NULL. */
  readonly values: readonly (Buffer | string | null)[];
}

export interface StatementResult {
  /** Rows in text format, columns in select-list order. */
  readonly rows: readonly (readonly (string | null)[])[];
  readonly rowCount: number;
}

/**
 * Thrown when preparing a statement failed (a malformed statement: a bug). Which of the message's
 * statements were prepared is unknown, so the connection must be discarded, not reused.
 */
export class PrepareFailed extends Error {
  override name = 'PrepareFailed';
  constructor(readonly original: unknown) {
    super((original as { message?: string }).message ?? 'preparing a statement failed');
  }
}

/**
 * How this module's sessions plan. A prepared statement's plan is made once and kept (a generic
 * plan), so it must not depend on how big a table was when it was made: with the default settings
 * PostgreSQL planned `UPDATE … FROM unnest($1…)` as a hash join over a sequential scan while the
 * tables were small and kept that plan as they grew (measured: PostgreSQL CPU per payment doubled
 * within 30,000 payments). The write batcher's statements are all index lookups by key for a few
 * hundred rows at most, so its sessions plan only index-driven nested loops, and generic plans from
 * the first execution on. (The settings belong to these sessions: give the batcher its own pool.)
 */
const sessionSettings =
  "SELECT set_config('plan_cache_mode', 'force_generic_plan', false), set_config('enable_seqscan', 'off', false), " +
  "set_config('enable_hashjoin', 'off', false), set_config('enable_mergejoin', 'off', false)";

/** Beyond this many shapes on one connection, further ones use the unnamed statement (parsed each time). */
const preparedPerConnectionDefault = 256;

interface ConnectionState {
  readonly names: Map<string, string>;
  counter: number;
}
const connections = new WeakMap<object, ConnectionState>();

/** Runs `statements` in order in one round trip (two the first time a shape is seen on this connection). */
export async function runPipeline(
  client: pg.PoolClient,
  statements: readonly Statement[],
  options: { preparedPerConnectionMax?: number } = {},
): Promise<StatementResult[]> {
  const preparedPerConnectionMax = options.preparedPerConnectionMax ?? preparedPerConnectionDefault;
  const connection = (client as unknown as { connection: object }).connection;
  let state = connections.get(connection);
  const setUp = state === undefined;
  if (!state) {
    state = { names: new Map(), counter: 0 };
    connections.set(connection, state);
  }
  const fresh: { name: string; text: string }[] = [];
  const planned: { name: string; text: string; values: Statement['values'] }[] = [];
  for (const statement of statements) {
    let name = state.names.get(statement.text) ?? fresh.find((f) => f.text === statement.text)?.name;
    if (name === undefined && state.names.size + fresh.length < preparedPerConnectionMax) {
      name = `fenpay_${(state.counter += 1)}`;
      fresh.push({ name, text: statement.text });
    }
    planned.push({ name: name ?? '', text: statement.text, values: statement.values });
  }
  if (fresh.length > 0 || setUp) {
    const settings: Message[] = setUp ? [{ kind: 'parse', name: '', text: sessionSettings }, { kind: 'execute', name: '', values: [] }] : [];
    try {
      await client.query(new Messages([...settings, ...fresh.map((f): Message => ({ kind: 'parse', name: f.name, text: f.text }))]));
    } catch (error) {
      throw new PrepareFailed(error);
    }
    for (const f of fresh) state.names.set(f.text, f.name);
  }
  return await client.query(
    new Messages(
      planned.flatMap((p): Message[] => [
        ...(p.name === '' ? [{ kind: 'parse' as const, name: '', text: p.text }] : []),
        { kind: 'execute', name: p.name, values: p.values },
      ]),
    ),
  );
}

export type Message =
  | { readonly kind: 'parse'; readonly name: string; readonly text: string }
  | { readonly kind: 'execute'; readonly name: string; readonly values: Statement['values'] };

/**
 * The frontend messages of a pipeline, encoded into one buffer (PostgreSQL's protocol, "Message
 * Formats"): Parse, Bind (every parameter binary, every result column text), Execute, one Sync. One
 * buffer is one socket write, whatever the number of statements and parameters.
 */
export function encodeMessages(messages: readonly Message[]): Buffer {
  let size = 5; // Sync
  for (const m of messages) {
    if (m.kind === 'parse') size += 1 + 4 + Buffer.byteLength(m.name) + 1 + Buffer.byteLength(m.text) + 1 + 2;
    else {
      size += 1 + 4 + 1 + Buffer.byteLength(m.name) + 1 + 2 + 2 * m.values.length + 2 + 2 + 10; // Bind framing, then Execute
      for (const v of m.values) size += 4 + (v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);
    }
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  const int16 = (n: number) => (pos = out.writeInt16BE(n, pos));
  const int32 = (n: number) => (pos = out.writeInt32BE(n, pos));
  const cstring = (text: string) => {
    pos += out.write(text, pos, 'utf8');
    out[pos++] = 0;
  };
  for (const m of messages) {
    const start = pos;
    if (m.kind === 'parse') {
      out[pos++] = 0x50; // 'P'
      pos += 4;
      cstring(m.name);
      cstring(m.text);
      int16(0); // parameter types: taken from the casts in the text
    } else {
      out[pos++] = 0x42; // 'B'
      pos += 4;
      out[pos++] = 0; // unnamed portal
      cstring(m.name);
      // One format code per parameter: binary for Buffers, text for strings.
      int16(m.values.length);
      for (const v of m.values) int16(typeof v === 'string' ? 0 : 1);
      int16(m.values.length);
      for (const v of m.values) {
        if (v === null) int32(-1);
        else if (typeof v === 'string') {
          const lengthAt = pos;
          pos += 4;
          const written = out.write(v, pos, 'utf8');
          out.writeInt32BE(written, lengthAt);
          pos += written;
        } else {
          int32(v.length);
          pos += v.copy(out, pos);
        }
      }
      int16(0); // result columns: all text
    }
    out.writeInt32BE(pos - start - 1, start + 1);
    if (m.kind === 'execute') {
      out[pos++] = 0x45; // 'E': unnamed portal, every row
      int32(9);
      out[pos++] = 0;
      int32(0);
    }
  }
  out[pos++] = 0x53; // 'S'
  int32(4);
  if (pos !== size) throw new AssertionError(`pipeline message is ${pos} bytes, expected ${size}`);
  return out;
}

/** What a submittable needs of node-postgres's Connection. */
interface WireConnection {
  readonly stream: { write(chunk: Buffer): boolean };
  sendCopyFail(message: string): void;
}

class Messages implements pg.Submittable {
  readonly #messages: readonly Message[];
  readonly #results: StatementResult[] = [];
  #rows: (string | null)[][] = [];
  #resolve!: (results: StatementResult[]) => void;
  #reject!: (error: unknown) => void;
  readonly #promise: Promise<StatementResult[]>;

  constructor(messages: readonly Message[]) {
    this.#messages = messages;
    this.#promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  // node-postgres's client.query(submittable) returns the submittable; awaiting it awaits the results.
  then<T1 = StatementResult[], T2 = never>(
    onFulfilled?: ((value: StatementResult[]) => T1 | PromiseLike<T1>) | null,
    onRejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.#promise.then(onFulfilled, onRejected);
  }

  submit(connection: pg.Connection): void {
    (connection as unknown as WireConnection).stream.write(encodeMessages(this.#messages));
  }

  handleRowDescription(): void {}

  handleDataRow(message: { fields: (string | null)[] }): void {
    this.#rows.push(message.fields);
  }

  handleCommandComplete(message: { text: string }): void {
    // "INSERT 0 5", "UPDATE 3", "SELECT 1": the count is the last word.
    const count = Number(message.text.slice(message.text.lastIndexOf(' ') + 1));
    this.#results.push({ rows: this.#rows, rowCount: Number.isFinite(count) ? count : 0 });
    this.#rows = [];
  }

  handleEmptyQuery(): void {
    this.#results.push({ rows: [], rowCount: 0 });
  }

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: pg.Connection): void {
    (connection as unknown as WireConnection).sendCopyFail('COPY is not used in a pipeline');
  }

  handleCopyData(): void {}

  handleError(error: unknown): void {
    this.#reject(error);
  }

  handleReadyForQuery(): void {
    this.#resolve(this.#results);
  }
}
