/**
 * Starts a real Fenpay (HTTP on a loopback port, job queue, sandbox) on a fresh test database, with
 * a merchant and its keys, and an official `stripe` client pointed at it.
 */
import Stripe from 'stripe';
import { loadConfig } from '../../src/config/index.ts';
import { startFenpay, type Fenpay } from '../../src/boot.ts';
import { createMerchant, issueApiKey, type Merchant } from '../../src/merchants/index.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { freePort } from '../../src/db/index.ts';

export { freePort };

export const testVaultKeys = 'test1:' + Buffer.alloc(32, 7).toString('base64');

export interface TestMerchant {
  readonly merchant: Merchant;
  readonly secretKey: string;
  readonly publishableKey: string;
  readonly liveSecretKey: string;
  readonly stripe: Stripe;
  readonly liveStripe: Stripe;
}

export interface TestFenpay {
  readonly fenpay: Fenpay;
  readonly database: TestDatabase;
  readonly url: string;
  readonly port: number;
  createMerchant(options?: { handlesCardData?: boolean; name?: string }): Promise<TestMerchant>;
  stripeFor(key: string, options?: { maxNetworkRetries?: number }): Stripe;
  close(): Promise<void>;
}

export async function startTestFenpay(options: { env?: Record<string, string>; now?: () => Date; withoutJobQueue?: boolean } = {}): Promise<TestFenpay> {
  const database = await createTestDatabase();
  const port = await freePort();
  const config = loadConfig({
    FENPAY_ENV: 'test',
    DATABASE_URL: database.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    VAULT_KEYS: testVaultKeys,
    LOG_LEVEL: 'silent',
    DB_POOL_SIZE: '10',
    // Two test files run at once on one server (max_connections 100 here): keep each Fenpay small.
    WRITE_BATCH_CONCURRENCY: '4',
    FENPAY_SEED_DEMO: 'false',
    ...options.env,
  });
  const logger = createLogger({ level: config.logLevel });
  const fenpay = await startFenpay({ config, logger, ...(options.now ? { now: options.now } : {}), ...(options.withoutJobQueue ? { withoutJobQueue: true } : {}) });
  await fenpay.app!.listen({ host: '127.0.0.1', port });
  const stripeFor = (key: string, opts: { maxNetworkRetries?: number } = {}) =>
    new Stripe(key, { host: '127.0.0.1', port, protocol: 'http', telemetry: false, maxNetworkRetries: opts.maxNetworkRetries ?? 0 });
  let closed = false;
  return {
    fenpay,
    database,
    url: `http://127.0.0.1:${port}`,
    port,
    stripeFor,
    async createMerchant(opts = {}) {
      const merchant = await createMerchant(database.db, { name: opts.name ?? 'Test Shop', handlesCardData: opts.handlesCardData ?? false, liveEnabled: true });
      const secret = await issueApiKey(database.db, { merchantId: merchant.id, kind: 'secret', livemode: false });
      const publishable = await issueApiKey(database.db, { merchantId: merchant.id, kind: 'publishable', livemode: false });
      const live = await issueApiKey(database.db, { merchantId: merchant.id, kind: 'secret', livemode: true });
      return {
        merchant,
        secretKey: secret.key,
        publishableKey: publishable.key,
        liveSecretKey: live.key,
        stripe: stripeFor(secret.key),
        liveStripe: stripeFor(live.key),
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await fenpay.stop();
      await database.drop();
    },
  };
}
