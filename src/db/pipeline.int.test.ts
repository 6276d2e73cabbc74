/** Prepared statements in one round trip on a real PostgreSQL: results, failures, preparation, plans. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { BinaryWriter, codecFor, columnArray } from './pg-binary.ts';
import { PrepareFailed, runPipeline, type Statement } from './pipeline.ts';

let database: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  database = await createTestDatabase();
  await database.pool.query('CREATE TABLE pipeline_probe (id text PRIMARY KEY, n int8 NOT NULL)');
  pool = new pg.Pool({ connectionString: database.url, max: 1 });
});
afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

const texts = (values: readonly string[]) => columnArray(new BinaryWriter(), codecFor('text', 'p.id'), values, 'p.id');
const int8s = (values: readonly bigint[]) => columnArray(new BinaryWriter(), codecFor('int8', 'p.n'), values, 'p.n');
const insert = (ids: readonly string[], ns: readonly bigint[]): Statement => ({
  text: 'INSERT INTO pipeline_probe (id, n) SELECT * FROM unnest($1::text[], $2::int8[])',
  values: [texts(ids), int8s(ns)],
});
const select = (ids: readonly string[]): Statement => ({ text: 'SELECT id, n FROM pipeline_probe WHERE id = ANY($1::text[]) ORDER BY id', values: [texts(ids)] });

async function withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}

describe('a pipeline of prepared statements', () => {
  it('runs every statement in order and answers each one’s rows and count', async () => {
    const results = await withClient((client) => runPipeline(client, [insert(['a1', 'a2'], [1n, 2n]), select(['a1', 'a2', 'zz'])]));
    expect(results).toEqual([
      { rows: [], rowCount: 2 },
      { rows: [['a1', '1'], ['a2', '2']], rowCount: 2 },
    ]);
  });

  it('commits everything at its Sync, or nothing when a statement fails', async () => {
    const failed = await withClient((client) => runPipeline(client, [insert(['b1'], [1n]), insert(['b1'], [2n]), select(['b1'])]).then(() => 'ok', (e: unknown) => (e as { code?: string }).code));
    expect(failed).toBe('23505');
    // The first insert was rolled back with the second, and the connection is usable at once.
    expect((await withClient((client) => runPipeline(client, [select(['b1'])])))[0]!.rows).toEqual([]);
  });

  it('prepares each statement shape once per connection, with generic index-driven plans', async () => {
    await withClient(async (client) => {
      for (let i = 0; i < 8; i++) await runPipeline(client, [insert([`c${i}`], [BigInt(i)]), select([`c${i}`])]);
      const prepared = await client.query<{ statement: string; generic_plans: string; custom_plans: string }>(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%pipeline_probe%' ORDER BY statement",
      );
      expect(prepared.rows.map((r) => [r.statement.split(' ', 1)[0], Number(r.custom_plans)])).toEqual([
        ['INSERT', 0],
        ['SELECT', 0],
      ]);
      expect(prepared.rows.every((r) => Number(r.generic_plans) >= 8)).toBe(true);
      const settings = await client.query<{ plan_cache_mode: string; seq: string; hash: string }>(
        "SELECT current_setting('plan_cache_mode') AS plan_cache_mode, current_setting('enable_seqscan') AS seq, current_setting('enable_hashjoin') AS hash",
      );
      expect(settings.rows[0]).toEqual({ plan_cache_mode: 'force_generic_plan', seq: 'off', hash: 'off' });
    });
  });

  it('parses a shape with each use, unnamed, once a connection holds as many shapes as it may keep', async () => {
    await withClient(async (client) => {
      const shape = (id: string): Statement => ({ text: 'SELECT id, n, 1 AS unnamed FROM pipeline_probe WHERE id = ANY($1::text[])', values: [texts([id])] });
      const results = await runPipeline(client, [insert(['d1'], [7n]), shape('d1'), shape('d1')], { preparedPerConnectionMax: 0 });
      expect(results.slice(1).map((r) => r.rows)).toEqual([[['d1', '7', '1']], [['d1', '7', '1']]]);
      const kept = await client.query("SELECT 1 FROM pg_prepared_statements WHERE statement LIKE '%AS unnamed%'");
      expect(kept.rowCount).toBe(0);
    });
  });

  it('reports a statement that cannot be prepared as PrepareFailed, naming the cause', async () => {
    const error = await withClient((client) => runPipeline(client, [{ text: 'SELECT * FROM no_such_table', values: [] }]).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(PrepareFailed);
    expect((error as PrepareFailed).message).toMatch(/no_such_table/);
  });
});
