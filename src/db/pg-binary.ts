/**
 * Column values as PostgreSQL binary arrays, the parameter format of the write batcher's prepared
 * statements (`INSERT … SELECT … FROM unnest($1::text[], $2::int8[], …)`). A binary parameter needs
 * no quoting and no escaping: PostgreSQL reads its bytes as they are (array_recv and each element
 * type's receive function), so nothing a request sends can change a statement, and neither side
 * spends time turning values into SQL text and back. Formats: PostgreSQL's `array_recv`,
 * `textrecv`, `int8recv`, `timestamptz_recv`, `json_recv`, `jsonb_recv` (src/backend/utils/adt).
 */
import { AssertionError } from '../kernel/index.ts';

/** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01T00:00:00Z), in milliseconds. */
const postgresEpochMs = Date.UTC(2000, 0, 1);
const twoTo32 = 2 ** 32;

/**
 * Appends parameter arrays to large shared chunks and hands each out as a view, so a batch of
 * thousands of values allocates a few buffers, not one per value. A chunk that fills up is replaced
 * by a bigger one; the array being written moves with it, finished arrays stay where they are.
 */
export class BinaryWriter {
  #chunk: Buffer;
  #pos = 0;
  #start = 0;

  constructor(initialBytes = 64 * 1024) {
    this.#chunk = Buffer.allocUnsafe(initialBytes);
  }

  #ensure(bytes: number): void {
    if (this.#pos + bytes <= this.#chunk.length) return;
    const partial = this.#pos - this.#start;
    const next = Buffer.allocUnsafe(Math.max(this.#chunk.length * 2, partial + bytes + 1024));
    this.#chunk.copy(next, 0, this.#start, this.#pos);
    this.#chunk = next;
    this.#start = 0;
    this.#pos = partial;
  }

  /** Starts a one-dimensional array of `count` elements of type `elementOid`. */
  beginArray(elementOid: number, count: number): void {
    this.#start = this.#pos;
    if (count === 0) {
      // An empty array has no dimensions.
      this.#ensure(12);
      this.#int32(0);
      this.#int32(0);
      this.#chunk.writeUInt32BE(elementOid, this.#pos);
      this.#pos += 4;
      return;
    }
    this.#ensure(20);
    this.#int32(1); // dimensions
    this.#int32(0); // flags: array_recv finds NULLs itself
    this.#chunk.writeUInt32BE(elementOid, this.#pos);
    this.#pos += 4;
    this.#int32(count);
    this.#int32(1); // lower bound
  }

  /** The array begun last, as a view that stays valid after later writes. */
  endArray(): Buffer {
    return this.#chunk.subarray(this.#start, this.#pos);
  }

  null(): void {
    this.#ensure(4);
    this.#int32(-1);
  }

  utf8(text: string): void {
    // At most three bytes per UTF-16 code unit; write, then fill in the length it took.
    this.#ensure(4 + text.length * 3);
    const written = this.#chunk.write(text, this.#pos + 4, 'utf8');
    this.#int32(written);
    this.#pos += written;
  }

  /** A jsonb element: format version 1, then the document's text. */
  jsonb(text: string): void {
    this.#ensure(5 + text.length * 3);
    const written = this.#chunk.write(text, this.#pos + 5, 'utf8');
    this.#int32(written + 1);
    this.#chunk[this.#pos++] = 1;
    this.#pos += written;
  }

  bytes(value: Buffer): void {
    this.#ensure(4 + value.length);
    this.#int32(value.length);
    value.copy(this.#chunk, this.#pos);
    this.#pos += value.length;
  }

  bool(value: boolean): void {
    this.#ensure(5);
    this.#int32(1);
    this.#chunk[this.#pos++] = value ? 1 : 0;
  }

  int2(value: number): void {
    this.#ensure(6);
    this.#int32(2);
    this.#chunk.writeInt16BE(value, this.#pos);
    this.#pos += 2;
  }

  int4(value: number): void {
    this.#ensure(8);
    this.#int32(4);
    this.#int32(value);
  }

  int8(value: bigint): void {
    this.#ensure(12);
    this.#int32(8);
    this.#chunk.writeBigInt64BE(value, this.#pos);
    this.#pos += 8;
  }

  /** A timestamptz element: microseconds since 2000-01-01 UTC as a signed 64-bit integer. */
  timestamp(epochMs: number): void {
    // Exact in a double for ±142 years around 2000 (2^53 µs); split into two 32-bit halves.
    const micros = (epochMs - postgresEpochMs) * 1000;
    const high = Math.floor(micros / twoTo32);
    this.#ensure(12);
    this.#int32(8);
    this.#int32(high);
    this.#chunk.writeUInt32BE(micros - high * twoTo32, this.#pos);
    this.#pos += 4;
  }

  #int32(value: number): void {
    this.#chunk.writeInt32BE(value, this.#pos);
    this.#pos += 4;
  }
}

/** How one column's values travel: the parameter's array type and how each element is written. */
export interface ColumnCodec {
  /** The parameter's SQL type, e.g. `text[]`. */
  readonly arrayType: string;
  /** A cast from the parameter's element to the column's type where one is needed (`text[]` columns). */
  readonly cast: string;
  readonly elementOid: number;
  /** Writes one element; `where` names the column in the error a wrong value raises (a bug). */
  write(writer: BinaryWriter, value: unknown, where: string): void;
}

const oid = { bool: 16, bytea: 17, int8: 20, int2: 21, int4: 23, text: 25, json: 114, timestamptz: 1184, jsonb: 3802 } as const;

function integer(value: unknown, where: string, min: number, max: number): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return value;
  if (typeof value === 'bigint' && value >= BigInt(min) && value <= BigInt(max)) return Number(value);
  throw new AssertionError(`${where} expects an integer between ${min} and ${max}`);
}

function text(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new AssertionError(`${where} expects a string`);
  return value;
}

const int8Min = -(2n ** 63n);
const int8Max = 2n ** 63n - 1n;

/** `{"a","b"}`: a text[] value as the text array_in reads, every element quoted. */
export function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
}

const textCodec: ColumnCodec = { arrayType: 'text[]', cast: '', elementOid: oid.text, write: (w, v, where) => w.utf8(text(v, where)) };

const codecs: Record<string, ColumnCodec> = {
  text: textCodec,
  // varchar columns take text elements: the insert's assignment cast checks their length.
  varchar: textCodec,
  int2: { arrayType: 'int2[]', cast: '', elementOid: oid.int2, write: (w, v, where) => w.int2(integer(v, where, -32768, 32767)) },
  int4: { arrayType: 'int4[]', cast: '', elementOid: oid.int4, write: (w, v, where) => w.int4(integer(v, where, -2147483648, 2147483647)) },
  int8: {
    arrayType: 'int8[]',
    cast: '',
    elementOid: oid.int8,
    write: (w, v, where) => {
      if (typeof v === 'number' && Number.isSafeInteger(v)) return w.int8(BigInt(v));
      if (typeof v === 'bigint' && v >= int8Min && v <= int8Max) return w.int8(v);
      throw new AssertionError(`${where} expects a 64-bit integer`);
    },
  },
  bool: {
    arrayType: 'bool[]',
    cast: '',
    elementOid: oid.bool,
    write: (w, v, where) => {
      if (typeof v !== 'boolean') throw new AssertionError(`${where} expects a boolean`);
      w.bool(v);
    },
  },
  timestamptz: {
    arrayType: 'timestamptz[]',
    cast: '',
    elementOid: oid.timestamptz,
    write: (w, v, where) => {
      const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : Number.NaN;
      if (!Number.isFinite(ms)) throw new AssertionError(`${where} expects a timestamp`);
      w.timestamp(ms);
    },
  },
  json: { arrayType: 'json[]', cast: '', elementOid: oid.json, write: (w, v) => w.utf8(JSON.stringify(v)) },
  jsonb: { arrayType: 'jsonb[]', cast: '', elementOid: oid.jsonb, write: (w, v) => w.jsonb(JSON.stringify(v)) },
  bytea: {
    arrayType: 'bytea[]',
    cast: '',
    elementOid: oid.bytea,
    write: (w, v, where) => {
      if (!Buffer.isBuffer(v)) throw new AssertionError(`${where} expects bytes`);
      w.bytes(v);
    },
  },
  // A text[] column: each row's list travels as one text element and is cast per row. (A parameter
  // of type text[][] cannot carry lists of different lengths.)
  _text: {
    arrayType: 'text[]',
    cast: '::text[]',
    elementOid: oid.text,
    write: (w, v, where) => {
      if (!Array.isArray(v) || !v.every((e) => typeof e === 'string')) throw new AssertionError(`${where} expects a list of strings`);
      w.utf8(textArrayLiteral(v));
    },
  },
};

/** The codec of a column of PostgreSQL type `udt` (information_schema.columns.udt_name). */
export function codecFor(udt: string, where: string): ColumnCodec {
  const codec = codecs[udt];
  if (!codec) throw new AssertionError(`no binary encoding for ${where} (${udt})`);
  return codec;
}

/** One column of many rows as one binary array parameter; null and undefined become NULL. */
export function columnArray(writer: BinaryWriter, codec: ColumnCodec, values: readonly unknown[], where: string): Buffer {
  writer.beginArray(codec.elementOid, values.length);
  for (const value of values) {
    if (value === null || value === undefined) writer.null();
    else codec.write(writer, value, where);
  }
  return writer.endArray();
}
