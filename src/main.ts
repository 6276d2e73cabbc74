/** Starts Fenpay: every role in one process by default (FENPAY_ROLES=api,worker). */
import { ConfigError, loadConfig } from './config/index.ts';
import { createLogger } from './telemetry/logger.ts';
import { startFenpay } from './boot.ts';
import { seedDemoMerchant } from './seed.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  const fenpay = await startFenpay({ config, logger });

  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests and writes');
    const timer = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    fenpay.stop().then(
      () => {
        logger.info('stopped cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  if (fenpay.app) {
    // A deep accept queue: bursts of connections wait in the kernel instead of being dropped and retried.
    const address = await fenpay.app.listen({ host: config.host, port: config.port, backlog: 4096 });
    logger.info({ address }, 'Fenpay API listening');
  }
  if (config.seedDemo && fenpay.app) {
    const demo = await seedDemoMerchant(fenpay.database.db, config);
    printWelcome(config.publicUrl, demo);
  }
}

function printWelcome(publicUrl: string, demo: { merchantId: string; secretKey: string; publishableKey: string }): void {
  const lines = [
    '',
    '  Fenpay is running.',
    '',
    `  API            ${publicUrl}/v1`,
    `  API docs       ${publicUrl}/docs      (OpenAPI: ${publicUrl}/openapi.json)`,
    `  Health         ${publicUrl}/healthz   ${publicUrl}/readyz   ${publicUrl}/metrics`,
    '',
    `  Demo merchant  ${demo.merchantId}`,
    `  Secret key     ${demo.secretKey}`,
    `  Publishable    ${demo.publishableKey}`,
    '',
    '  Try it:',
    `  curl ${publicUrl}/v1/payment_intents -u ${demo.secretKey}: \\`,
    '    -d amount=1099 -d currency=usd -d payment_method=pm_card_visa -d confirm=true',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
