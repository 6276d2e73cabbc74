/**
 * The operator CLI as an operator runs it: a merchant, then its channel account from credentials on the
 * command line and in files; secrets never echoed back; bad credentials refused with a clear message.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { testVaultKeys } from './support/fenpay.ts';

const run = promisify(execFile);

describe('operator CLI', () => {
  let database: TestDatabase;
  const cli = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
        env: { ...process.env, DATABASE_URL: database.url, VAULT_KEYS: testVaultKeys, FENPAY_ENV: 'test', LOG_LEVEL: 'silent' },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('creates a merchant and connects a channel account, keeping the secret sealed', async () => {
    const created = await cli('merchants:create', '--name', 'CLI Shop', '--live');
    expect(created.code).toBe(0);
    const merchant = (JSON.parse(created.stdout) as { merchant: { id: string } }).merchant.id;
    const dir = mkdtempSync(path.join(tmpdir(), 'fenpay-cli-'));
    const keyFile = path.join(dir, 'key');
    writeFileSync(keyFile, 'sk_live_0123456789abcdefghijklmn', { mode: 0o600 });
    const account = await cli('channel-accounts:create', '--merchant', merchant, '--live', '--channel', 'stripe_acquirer', '--credential-file', `secret_key=${keyFile}`, '--credential', 'api_base=https://acquirer.example', '--priority', '5');
    expect(account.code, account.stderr).toBe(0);
    const body = JSON.parse(account.stdout) as { id: string; livemode: boolean; priority: number; credentials: Record<string, string> };
    expect(body).toMatchObject({ livemode: true, priority: 5, credentials: { secret_key: '[sealed]', api_base: 'https://acquirer.example' } });
    expect(account.stdout).not.toContain('sk_live_0123456789');
    const listed = await cli('channel-accounts:list', '--merchant', merchant, '--live');
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((a) => a.id)).toEqual([body.id]);

    // A test key cannot back a live account: refused, nothing stored.
    const wrong = await cli('channel-accounts:create', '--merchant', merchant, '--live', '--channel', 'stripe_acquirer', '--credential', 'secret_key=sk_test_abc');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('parameter_invalid (credentials)');
    expect(wrong.stderr).not.toContain('sk_test_abc');
    const usage = await cli('channel-accounts:create', '--merchant', merchant);
    expect(usage.code).toBe(2);
  }, 60_000);
});
