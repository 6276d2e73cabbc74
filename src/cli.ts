/**
 * Operator CLI: `npm run fenpay -- <command> [--flags]`.
 *   merchants:create --name "Shop" [--email e] [--country CN] [--currency cny] [--live] [--handles-card-data]
 *   merchants:list
 *   keys:create --merchant acct_… [--live] [--publishable]
 *   keys:revoke --merchant acct_… --key key_…
 *   channel-accounts:create --merchant acct_… --channel alipay|wechat_pay|unionpay|stripe_acquirer [--live]
 *       --credential name=value … --credential-file name=path … [--priority N] [--weight N] [--description d]
 *   channel-accounts:list --merchant acct_… [--live]
 *   vault:rotate
 *   ledger:audit
 *   migrate
 */
import { parseArgs } from 'node:util';
import { AppError } from './kernel/index.ts';
import { ConfigError, loadConfig } from './config/index.ts';
import { createLogger } from './telemetry/logger.ts';
import { resolveDatabaseUrl } from './boot.ts';
import { connectDatabase, migrateToLatest } from './db/index.ts';
import { createMerchant, issueApiKey, listMerchants, revokeApiKey } from './merchants/index.ts';
import { createVault } from './vault/index.ts';
import { auditLedger } from './ledger/index.ts';
import { createChannelAccount, listChannelAccounts, resealWebhookSecrets, systemContext, type Services } from './flows/index.ts';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from './config/index.ts';
import { WriteBatcher, type DatabaseHandle } from './db/index.ts';
import { ChannelRegistry } from './channels/registry.ts';
import { channelCatalog } from './channels/catalog.ts';
import { createMetrics } from './http/metrics.ts';

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      email: { type: 'string' },
      country: { type: 'string' },
      currency: { type: 'string' },
      merchant: { type: 'string' },
      key: { type: 'string' },
      live: { type: 'boolean', default: false },
      publishable: { type: 'boolean', default: false },
      'handles-card-data': { type: 'boolean', default: false },
      channel: { type: 'string' },
      credential: { type: 'string', multiple: true },
      'credential-file': { type: 'string', multiple: true },
      priority: { type: 'string' },
      weight: { type: 'string' },
      description: { type: 'string' },
    },
    strict: true,
  });
  const config = loadConfig();
  const logger = createLogger({ level: 'warn' });
  const { url, embedded } = await resolveDatabaseUrl(config, logger);
  const database = connectDatabase({ url, poolSize: 2 });
  try {
    await migrateToLatest(database.db);
    switch (command) {
      case 'migrate':
        console.log('database is up to date');
        return 0;
      case 'merchants:create': {
        if (!values.name) throw new UsageError('merchants:create needs --name');
        const merchant = await createMerchant(database.db, {
          name: values.name,
          email: values.email,
          country: values.country,
          defaultCurrency: values.currency?.toLowerCase(),
          liveEnabled: values.live,
          handlesCardData: values['handles-card-data'],
        });
        const keys = [
          await issueApiKey(database.db, { merchantId: merchant.id, kind: 'secret', livemode: false }),
          await issueApiKey(database.db, { merchantId: merchant.id, kind: 'publishable', livemode: false }),
        ];
        if (values.live) {
          keys.push(await issueApiKey(database.db, { merchantId: merchant.id, kind: 'secret', livemode: true }));
          keys.push(await issueApiKey(database.db, { merchantId: merchant.id, kind: 'publishable', livemode: true }));
        }
        console.log(JSON.stringify({ merchant, keys, note: 'Keys are shown once; Fenpay stores only their hashes.' }, null, 2));
        return 0;
      }
      case 'channel-accounts:create': {
        if (!values.merchant || !values.channel) throw new UsageError('channel-accounts:create needs --merchant and --channel');
        const credentials: Record<string, string> = {};
        for (const pair of values.credential ?? []) credentials[keyOf(pair)] = pair.slice(pair.indexOf('=') + 1);
        // Keys and certificates come from files, so they never appear in the shell history or `ps`.
        for (const pair of values['credential-file'] ?? []) credentials[keyOf(pair)] = readFileSync(pair.slice(pair.indexOf('=') + 1), 'utf8');
        const services = cliServices(config, database, logger);
        try {
          const ctx = systemContext({ merchantId: values.merchant, livemode: values.live });
          const account = await createChannelAccount(services, ctx, {
            channel: values.channel,
            credentials,
            description: values.description,
            metadata: undefined,
            priority: values.priority === undefined ? undefined : Number(values.priority),
            weight: values.weight === undefined ? undefined : Number(values.weight),
          });
          console.log(JSON.stringify(account, null, 2));
        } finally {
          await services.batcher.drain();
        }
        return 0;
      }
      case 'channel-accounts:list': {
        if (!values.merchant) throw new UsageError('channel-accounts:list needs --merchant');
        const services = cliServices(config, database, logger);
        console.log(JSON.stringify(await listChannelAccounts(services, { merchantId: values.merchant, livemode: values.live }), null, 2));
        return 0;
      }
      case 'merchants:list':
        console.log(JSON.stringify(await listMerchants(database.db), null, 2));
        return 0;
      case 'keys:create': {
        if (!values.merchant) throw new UsageError('keys:create needs --merchant');
        const key = await issueApiKey(database.db, { merchantId: values.merchant, kind: values.publishable ? 'publishable' : 'secret', livemode: values.live });
        console.log(JSON.stringify({ ...key, note: 'Shown once; Fenpay stores only its hash.' }, null, 2));
        return 0;
      }
      case 'keys:revoke': {
        if (!values.merchant || !values.key) throw new UsageError('keys:revoke needs --merchant and --key');
        const revoked = await revokeApiKey(database.db, { merchantId: values.merchant, keyId: values.key });
        console.log(revoked ? 'revoked' : 'no such active key');
        return revoked ? 0 : 1;
      }
      case 'vault:rotate': {
        const vault = createVault({ keys: config.vaultKeys, activeKeyId: config.vaultActiveKeyId, ...(config.vaultFingerprintKey ? { fingerprintKey: config.vaultFingerprintKey } : {}) });
        console.log(`re-wrapped ${await vault.rotate(database.db)} cards under key ${config.vaultActiveKeyId}`);
        console.log(`resealed ${await resealWebhookSecrets(database.db, vault)} webhook signing secrets under key ${config.vaultActiveKeyId}`);
        return 0;
      }
      case 'ledger:audit': {
        const audit = await auditLedger(database.db);
        console.log(JSON.stringify(audit, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
        const balanced = audit.totals.every((t) => t.debitsPosted === t.creditsPosted && t.debitsPending === t.creditsPending);
        return balanced && audit.bucketMismatches.length === 0 && audit.negativeAccounts.length === 0 ? 0 : 1;
      }
      default:
        throw new UsageError(`unknown command: ${command ?? '(none)'}`);
    }
  } finally {
    await database.close();
    await embedded?.stop();
  }
}

class UsageError extends Error {}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof UsageError) {
      console.error(error.message);
      console.error('usage: npm run fenpay -- merchants:create --name "Shop" | merchants:list | keys:create --merchant acct_… | keys:revoke --merchant acct_… --key key_… | channel-accounts:create --merchant acct_… --channel … --credential k=v | channel-accounts:list --merchant acct_… | vault:rotate | ledger:audit | migrate');
      process.exit(2);
    }
    if (error instanceof AppError) {
      console.error(`${error.code}${error.param ? ` (${error.param})` : ''}: ${error.message}`);
      process.exit(1);
    }
    console.error(error);
    process.exit(1);
  },
);

function keyOf(pair: string): string {
  const key = pair.slice(0, pair.indexOf('='));
  if (pair.indexOf('=') <= 0) throw new UsageError(`--credential and --credential-file take name=value, got "${pair}"`);
  return key;
}

/** The part of Fenpay's services the account commands need: the vault, the catalog and group commit. */
function cliServices(config: Config, database: DatabaseHandle, logger: Logger): Services {
  return {
    db: database.db,
    batcher: new WriteBatcher({ pool: database.writePool, concurrency: 1, maxBatchSize: 1 }),
    channels: new ChannelRegistry([]),
    channelCatalog,
    vault: createVault({ keys: config.vaultKeys, activeKeyId: config.vaultActiveKeyId, ...(config.vaultFingerprintKey ? { fingerprintKey: config.vaultFingerprintKey } : {}) }),
    config,
    logger,
    now: () => new Date(),
    scheduleSync: () => undefined,
    metrics: createMetrics(),
    enqueueInTransaction: async () => {},
  };
}
