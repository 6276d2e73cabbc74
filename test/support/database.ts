/** A fresh, migrated database per test file, dropped afterwards. Never assumes an empty server. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { connectDatabase, migrateToLatest, type DatabaseHandle } from '../../src/db/index.ts';

export interface TestDatabase extends DatabaseHandle {
  readonly name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const name = `fenpay_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = connectDatabase({ url: url.toString(), poolSize: options.poolSize ?? 20, applicationName: 'fenpay-test' });
  await migrateToLatest(handle.db);
  let dropped = false;
  return {
    ...handle,
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await handle.close();
      await withAdmin(adminUrl, async (admin) => {
        // Pools may still be closing their connections (graphile-worker does not await its pool's end):
        // wait for them, so FORCE does not kill a connection mid-close and crash the test run with an
        // uncaught "terminating connection due to administrator command".
        for (let waited = 0; waited < 5_000; waited += 25) {
          const open = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (open.rows[0]?.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
    },
  };
}

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
