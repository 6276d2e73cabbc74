/**
 * The demo merchant `npm start` creates on a fresh development database. Its test keys are kept in
 * the local data folder (development only, mode 0600) so every start can print them; API keys are
 * otherwise stored hashed and shown once.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config/index.ts';
import type { Db } from './db/index.ts';
import { createMerchant, getMerchant, issueApiKey } from './merchants/index.ts';

interface DemoKeys {
  merchantId: string;
  secretKey: string;
  publishableKey: string;
}

export async function seedDemoMerchant(db: Db, config: Config): Promise<DemoKeys> {
  const file = path.join(config.dataDir, `demo-merchant-${databaseTag(config)}.json`);
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as DemoKeys;
    if (await getMerchant(db, saved.merchantId)) return saved;
  }
  const merchant = await createMerchant(db, { name: 'Demo Shop', email: 'demo@fenpay.local', country: 'CN', defaultCurrency: 'usd' });
  const secret = await issueApiKey(db, { merchantId: merchant.id, kind: 'secret', livemode: false });
  const publishable = await issueApiKey(db, { merchantId: merchant.id, kind: 'publishable', livemode: false });
  const keys = { merchantId: merchant.id, secretKey: secret.key, publishableKey: publishable.key };
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

function databaseTag(config: Config): string {
  if (config.databaseUrl === undefined) return 'embedded';
  const url = new URL(config.databaseUrl);
  return `${url.hostname}-${url.port || '5432'}-${url.pathname.replace(/\W/g, '')}`;
}
