import pg from 'pg';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import type { Database } from './schema.ts';

// node-postgres returns int8 as a string; money is bigint minor units, so parse into BigInt once, here.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => BigInt(value));

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the root handle or an open transaction: room functions accept both. */
export type Executor = Kysely<Database>;

export interface DatabaseHandle {
  readonly db: Db;
  readonly pool: pg.Pool;
  /**
   * The write batcher's own sessions: it prepares its statements on them and sets how they plan
   * (pipeline.ts), which must not leak into the queries of `pool`. Connects on first use.
   */
  readonly writePool: pg.Pool;
  readonly url: string;
  close(): Promise<void>;
}

export function connectDatabase(options: { url: string; poolSize: number; writePoolSize?: number; applicationName?: string }): DatabaseHandle {
  const applicationName = options.applicationName ?? 'fenpay';
  const newPool = (max: number, name: string) => {
    const pool = new pg.Pool({
      connectionString: options.url,
      max,
      application_name: name,
      // A stuck statement must not hold a pool slot forever.
      statement_timeout: 30_000,
      idle_in_transaction_session_timeout: 60_000,
    });
    // An idle client that errors (server restart) must not crash the process; the pool replaces it.
    pool.on('error', () => undefined);
    return pool;
  };
  const pool = newPool(options.poolSize, applicationName);
  const writePool = newPool(options.writePoolSize ?? 2, `${applicationName}-writer`);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    writePool,
    url: options.url,
    async close() {
      await Promise.all([db.destroy(), writePool.end()]);
    },
  };
}
