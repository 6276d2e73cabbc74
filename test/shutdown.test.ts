/**
 * Graceful shutdown: on SIGTERM a running Fenpay stops accepting connections, finishes every request
 * already in flight, flushes every accepted write, and exits 0 — no acknowledged payment is lost and
 * none is left half-done.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLedger } from '../src/ledger/index.ts';
import { createMerchant, issueApiKey } from '../src/merchants/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { freePort, testVaultKeys } from './support/fenpay.ts';

describe('graceful shutdown', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('finishes in-flight payments on SIGTERM and loses none', async () => {
    const merchant = await createMerchant(database.db, { name: 'Shutdown Shop' });
    const key = (await issueApiKey(database.db, { merchantId: merchant.id, kind: 'secret', livemode: false })).key;
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, DATABASE_URL: database.url, PORT: String(port), FENPAY_ENV: 'development', VAULT_KEYS: testVaultKeys, FENPAY_SEED_DEMO: 'false', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if (i > 200) throw new Error(`Fenpay did not start:\n${output}`);
      try {
        if ((await fetch(`${url}/readyz`)).ok) break;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const acknowledged: string[] = [];
    let refused = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const response = await fetch(`${url}/v1/payment_intents`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded', connection: 'close' },
            body: 'amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true',
          });
          const body = (await response.json()) as { id?: string; status?: string };
          if (response.status === 200) {
            expect(body.status).toBe('succeeded');
            acknowledged.push(body.id!);
          } else {
            expect(response.status).toBe(503);
            refused += 1;
          }
        } catch {
          refused += 1; // connection refused or reset after the listener closed: not acknowledged
          if (child.exitCode !== null) return;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    };
    const load = Promise.all(Array.from({ length: 20 }, worker));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(acknowledged.length).toBeGreaterThan(0);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    stop = true;
    await load;
    expect(code, output).toBe(0);

    const rows = await database.db.selectFrom('payment_intents').select(['id', 'status']).execute();
    const byId = new Map(rows.map((r) => [r.id, r.status]));
    for (const id of acknowledged) expect(byId.get(id)).toBe('succeeded');
    // Nothing accepted was left half-done: no intent stuck between the attempt write and its outcome.
    expect(rows.filter((r) => r.status === 'processing')).toEqual([]);
    expect(rows.filter((r) => r.status === 'succeeded').length).toBe(acknowledged.length);
    const audit = await auditLedger(database.db);
    for (const total of audit.totals) {
      expect(total.debitsPosted).toBe(total.creditsPosted);
      expect(total.debitsPending).toBe(total.creditsPending);
    }
    expect(audit.bucketMismatches).toEqual([]);
    void refused;
  });
});
