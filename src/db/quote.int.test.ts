import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { dollarQuote, quote } from './write-batcher.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

describe('quoting strings into SQL literals', () => {
  const tricky = ["it's", "''", '\\', "\\'", "'; DROP TABLE merchants; --", 'E\'x\'', '\\x00', '"quoted"', '{"a":"b\\"c"}', '日本語 💳', '$$', '$fenpay_check$', '\n\r\t', ''];

  it('makes every string mean exactly itself to PostgreSQL, injection attempts included', async () => {
    for (const standardConforming of ['on', 'off']) {
      const client = await database.pool.connect();
      try {
        await client.query(`SET standard_conforming_strings = ${standardConforming}`);
        for (const text of tricky) {
          const result = await client.query<{ v: string }>(`SELECT ${quote(text)} AS v`);
          expect(result.rows[0]!.v, `${JSON.stringify(text)} with standard_conforming_strings=${standardConforming}`).toBe(text);
        }
      } finally {
        await client.query('RESET standard_conforming_strings');
        client.release();
      }
    }
    const merchants = await database.pool.query(`SELECT count(*) FROM merchants`);
    expect(merchants.rowCount).toBe(1);
  });

  it('makes every JSON document mean exactly itself as a dollar-quoted literal, its own tag inside included', async () => {
    const documents = [...tricky, '$fenpay$', 'x$fenpay$y$fenpay0$z', '$fenpay0$$fenpay$', '{"k":"$fenpay$\'; DROP TABLE merchants; --"}', '$fenpay', 'ends in $fenpay0', '$fenpay$ and ends in $fenpay', '$'];
    for (const text of documents) {
      const result = await database.pool.query<{ v: string }>(`SELECT ${dollarQuote(text)} AS v`);
      expect(result.rows[0]!.v, JSON.stringify(text)).toBe(text);
    }
    const merchants = await database.pool.query(`SELECT count(*) FROM merchants`);
    expect(merchants.rowCount).toBe(1);
  });

  it('refuses a NUL character instead of cutting the string', () => {
    expect(() => quote('a\u0000b')).toThrow(/NUL/);
    expect(() => dollarQuote('a\u0000b')).toThrow(/NUL/);
  });
});
