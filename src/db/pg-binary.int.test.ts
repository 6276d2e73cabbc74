/**
 * Binary array parameters on a real PostgreSQL: every value the write batcher sends arrives as
 * exactly itself, whatever characters it holds, because nothing is quoted or escaped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { BinaryWriter, codecFor, columnArray, textArrayLiteral } from './pg-binary.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

const tricky = ["it's", "''", '\\', "\\'", "'; DROP TABLE merchants; --", "E'x'", '\\x00', '"quoted"', '{"a":"b\\"c"}', '日本語 💳', '$$', '$fenpay$', '\n\r\t', '', '{a,b}', 'NULL', ' padded '];

/** Sends `values` as one binary array of `udt` and reads each element back in text format. */
async function roundTrip(udt: string, values: readonly unknown[]): Promise<(string | null)[]> {
  const codec = codecFor(udt, `test.${udt}`);
  const param = columnArray(new BinaryWriter(16), codec, values, `test.${udt}`);
  const result = await database.pool.query<{ v: string | null }>(`SELECT (u.v${codec.cast})::text AS v FROM unnest($1::${codec.arrayType}) WITH ORDINALITY AS u(v, n) ORDER BY n`, [param]);
  return result.rows.map((r) => r.v);
}

describe('binary array parameters', () => {
  it('carry every string as exactly itself, injection attempts included', async () => {
    expect(await roundTrip('text', tricky)).toEqual(tricky);
    expect(await database.pool.query('SELECT count(*) FROM merchants')).toMatchObject({ rowCount: 1 });
  });

  it('carry JSON documents as written, with NULL for a missing value', async () => {
    const documents = [{ k: "'; DROP TABLE merchants; --" }, { nested: { list: [1, 'two', null], s: '$fenpay$"\\' } }, 'a string', 12, []];
    expect((await roundTrip('json', documents)).map((t) => JSON.parse(t!))).toEqual(documents);
    expect((await roundTrip('jsonb', [...documents, null])).map((t) => (t === null ? null : JSON.parse(t)))).toEqual([...documents, null]);
  });

  it('carry integers to the edges of their types, booleans and bytes', async () => {
    expect(await roundTrip('int8', [0n, -1n, 9223372036854775807n, -9223372036854775808n, 42])).toEqual(['0', '-1', '9223372036854775807', '-9223372036854775808', '42']);
    expect(await roundTrip('int4', [2147483647, -2147483648, 0])).toEqual(['2147483647', '-2147483648', '0']);
    expect(await roundTrip('int2', [32767, -32768])).toEqual(['32767', '-32768']);
    expect(await roundTrip('bool', [true, false, null])).toEqual(['true', 'false', null]);
    expect(await roundTrip('bytea', [Buffer.from([0, 1, 255]), Buffer.alloc(0)])).toEqual(['\\x0001ff', '\\x']);
  });

  it('carry timestamps to the millisecond, before and after 2000', async () => {
    const dates = ['2026-12-03T10:54:26.619Z', '1999-12-31T23:59:59.999Z', '1970-01-01T00:00:00.000Z', '2100-02-28T12:00:00.001Z'];
    const result = await database.pool.query<{ v: Date }>('SELECT v FROM unnest($1::timestamptz[]) WITH ORDINALITY AS u(v, n) ORDER BY n', [
      columnArray(new BinaryWriter(), codecFor('timestamptz', 't'), [...dates.map((d) => new Date(d)), dates[0]], 't'),
    ]);
    expect(result.rows.map((r) => r.v.toISOString())).toEqual([...dates, dates[0]]);
  });

  it('carry lists of strings for text[] columns, quotes, commas and braces included', async () => {
    const lists = [['card'], [], tricky, ['a,b', '{c}', 'NULL']];
    const result = await database.pool.query<{ v: string[] }>('SELECT u.v::text[] AS v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n', [
      columnArray(new BinaryWriter(), codecFor('_text', 't'), lists, 't'),
    ]);
    expect(result.rows.map((r) => r.v)).toEqual(lists);
    expect(textArrayLiteral(['a"b'])).toBe('{"a\\"b"}');
  });

  it('grow their buffer for long values without corrupting arrays written before', async () => {
    const writer = new BinaryWriter(8);
    const first = columnArray(writer, codecFor('text', 't'), ['short'], 't');
    const long = 'x'.repeat(100_000) + '💳';
    const second = columnArray(writer, codecFor('text', 't'), [long, 'after'], 't');
    const result = await database.pool.query<{ a: string[]; b: string[] }>('SELECT $1::text[] AS a, $2::text[] AS b', [first, second]);
    expect(result.rows[0]).toEqual({ a: ['short'], b: [long, 'after'] });
  });

  it('refuse a value of the wrong kind instead of sending it', () => {
    const writer = new BinaryWriter();
    expect(() => columnArray(writer, codecFor('int8', 't.n'), [1.5], 't.n')).toThrow(/t.n expects a 64-bit integer/);
    expect(() => columnArray(writer, codecFor('int4', 't.n'), [2 ** 31], 't.n')).toThrow(/t.n expects an integer/);
    expect(() => columnArray(writer, codecFor('text', 't.s'), [7], 't.s')).toThrow(/t.s expects a string/);
    expect(() => columnArray(writer, codecFor('timestamptz', 't.at'), ['not a date'], 't.at')).toThrow(/expects a timestamp/);
    expect(() => codecFor('point', 't.p')).toThrow(/no binary encoding/);
  });

  it('refuse a NUL character: PostgreSQL text cannot hold one', async () => {
    await expect(roundTrip('text', ['a\u0000b'])).rejects.toThrow(/0x00/);
  });
});
