/**
 * The composition root: connects the database (embedded when DATABASE_URL is unset), migrates, wires
 * rooms, channels, the sandbox, the job queue and the HTTP app, and knows how to stop all of it in
 * order. main.ts, the CLI, tests and the benchmark all start Fenpay through here.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Runner } from 'graphile-worker';
import type { Config } from './config/index.ts';
import { connectDatabase, migrateToLatest, startEmbeddedPostgres, WriteBatcher, type DatabaseHandle, type EmbeddedDatabase } from './db/index.ts';
import { ChannelRegistry, limitModes } from './channels/registry.ts';
import { channelCatalog } from './channels/catalog.ts';
import { createSandboxCardChannel } from './channels/sandbox-card/index.ts';
import { createSandboxCardAcquirer, sandboxCardPages } from './sandbox/cards/index.ts';
import { createAlipayEmulator } from './sandbox/alipay/index.ts';
import { createWechatPayEmulator } from './sandbox/wechat-pay/index.ts';
import { createUnionPayEmulator } from './sandbox/unionpay/index.ts';
import { createAlipayChannel } from './channels/alipay/index.ts';
import { createWechatPayChannel } from './channels/wechat-pay/index.ts';
import { createUnionPayChannel } from './channels/unionpay/index.ts';
import { createVault } from './vault/index.ts';
import { ApiKeyAuthenticator } from './merchants/index.ts';
import { getAttemptByOrderNo } from './payments/index.ts';
import { channelNotifyUrl, syncAttempt, type Services } from './flows/index.ts';
import { buildApp } from './http/app.ts';
import { createMetrics, type Metrics } from './http/metrics.ts';
import { connectJobQueue, enqueueInTransaction, startWorker, type JobQueue } from './jobs/worker.ts';
import { startCheckoutSweeper, startHealthProbes, startNatsPublisher, startWebhookDispatcher, type Loop } from './jobs/loops.ts';

export interface Fenpay {
  readonly config: Config;
  readonly services: Services;
  readonly database: DatabaseHandle;
  readonly app: FastifyInstance | undefined;
  readonly metrics: Metrics;
  /** Stops accepting work, finishes what is in flight, then closes everything. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Overrides the clock (tests). */
  readonly now?: () => Date;
  /** Skips the job queue entirely (unit-style tests that drive flows directly). */
  readonly withoutJobQueue?: boolean;
}

export async function resolveDatabaseUrl(config: Config, logger: Logger): Promise<{ url: string; embedded: EmbeddedDatabase | undefined }> {
  if (config.databaseUrl !== undefined) return { url: config.databaseUrl, embedded: undefined };
  logger.info({ dataDir: config.dataDir }, 'DATABASE_URL is not set: starting the embedded PostgreSQL');
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, database: 'fenpay', onLog: (line) => logger.debug({ pg: line }, 'embedded postgres') });
  return { url: embedded.url, embedded };
}

export async function startFenpay(options: StartOptions): Promise<Fenpay> {
  const { config, logger } = options;
  const { url, embedded } = await resolveDatabaseUrl(config, logger);
  const database = connectDatabase({ url, poolSize: config.dbPoolSize, writePoolSize: config.writeBatchConcurrency });
  try {
    const applied = await migrateToLatest(database.db);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  } catch (error) {
    await database.close();
    await embedded?.stop();
    throw error;
  }

  const metrics = createMetrics();
  const batcher = new WriteBatcher({
    pool: database.writePool,
    concurrency: config.writeBatchConcurrency,
    maxBatchSize: config.writeBatchSizeMax,
    onBatch: (size, ms) => metrics.observeBatch(size, ms),
  });
  const vault = createVault({ keys: config.vaultKeys, activeKeyId: config.vaultActiveKeyId, ...(config.vaultFingerprintKey ? { fingerprintKey: config.vaultFingerprintKey } : {}) });
  const now = options.now ?? (() => new Date());

  // The acquirer calls back into flows, which need the acquirer: tie the knot through a holder.
  const wired: { services?: Services } = {};
  const acquirer = createSandboxCardAcquirer({
    db: database.db,
    publicUrl: config.publicUrl,
    settleDelaySeconds: config.syncTimeoutCardDelaySeconds,
    now,
    // The payer finished a 3-D Secure challenge: find out at once what the acquirer now says.
    onChallengeCompleted: async (orderNo) => {
      if (!wired.services) return;
      const attempt = await getAttemptByOrderNo(database.db, 'sandbox_card', orderNo);
      if (attempt) await syncAttempt(wired.services, attempt.id);
    },
  });
  // Test mode's wallet channels: the real adapters, talking over HTTP to the providers' emulators
  // served by this same process under /sandbox/… (live mode needs the merchant's own credentials).
  const emulatorOptions = { publicUrl: config.publicUrl, now, clockScale: config.sandboxClockScale };
  const alipayEmulator = createAlipayEmulator(emulatorOptions);
  const wechatPayEmulator = createWechatPayEmulator(emulatorOptions);
  const unionPayEmulator = await createUnionPayEmulator(emulatorOptions);
  const notifyUrlOf = (channelId: string) => channelNotifyUrl(config.publicUrl, channelId);
  const channels = new ChannelRegistry([
    createSandboxCardChannel({ acquirer }),
    limitModes(createAlipayChannel({ credentials: { ...alipayEmulator.credentials(), notifyUrl: notifyUrlOf('alipay') } }), ['test']),
    limitModes(createWechatPayChannel({ credentials: wechatPayEmulator.credentials(), notifyUrl: notifyUrlOf('wechat_pay'), now }), ['test']),
    createUnionPayChannel({ test: unionPayEmulator.credentials(), notifyUrl: notifyUrlOf('unionpay'), now }),
  ]);
  const stopEmulators = () => {
    alipayEmulator.stop();
    wechatPayEmulator.stop();
    unionPayEmulator.stop();
  };

  const queue: JobQueue | undefined = options.withoutJobQueue ? undefined : await connectJobQueue({ connectionString: url, logger });
  const services: Services = {
    db: database.db,
    batcher,
    channels,
    channelCatalog,
    vault,
    config,
    logger,
    now,
    scheduleSync: (attemptId, runAt) => queue?.scheduleSync(attemptId, runAt),
    metrics,
    enqueueInTransaction: queue ? enqueueInTransaction : async () => {},
  };
  wired.services = services;

  let worker: Runner | undefined;
  const loops: Loop[] = [];
  if (!options.withoutJobQueue && config.roles.includes('worker')) {
    worker = await startWorker({ connectionString: url, services, concurrency: config.workerConcurrency });
    loops.push(startWebhookDispatcher(services));
    loops.push(startCheckoutSweeper(services));
    loops.push(
      startHealthProbes(
        services,
        new Map(['alipay', 'wechat-pay', 'unionpay'].map((name) => [name.replace('-', '_'), `${config.publicUrl}/sandbox/${name}/health`])),
      ),
    );
    if (config.nats) loops.push(await startNatsPublisher(services, config.nats));
  }

  let app: FastifyInstance | undefined;
  let stopping = false;
  if (config.roles.includes('api')) {
    app = await buildApp({
      services,
      authenticator: new ApiKeyAuthenticator(database.db),
      metrics,
      logger,
      isReady: async () => {
        if (stopping) return false;
        await database.pool.query('SELECT 1');
        return true;
      },
      extraPlugins: [
        async (instance) => instance.register(sandboxCardPages, { acquirer }),
        async (instance) => instance.register(alipayEmulator.plugin),
        async (instance) => instance.register(wechatPayEmulator.plugin),
        async (instance) => instance.register(unionPayEmulator.plugin),
      ],
    });
  }

  return {
    config,
    services,
    database,
    app,
    metrics,
    async stop() {
      stopping = true;
      // 1. No new requests; in-flight ones finish (Fastify waits for them).
      if (app) await app.close();
      // 2. Every write already accepted reaches the database.
      await batcher.drain();
      // 3. Outbox readers finish their round; background jobs finish their current task.
      for (const loop of loops) await loop.stop();
      if (worker) await worker.stop();
      await queue?.stop();
      stopEmulators();
      await database.close();
      await embedded?.stop();
    },
  };
}

