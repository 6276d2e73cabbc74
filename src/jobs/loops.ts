/**
 * Outbox readers that run in worker processes: webhook dispatch and, when configured, NATS JetStream
 * publication. Each polls its cursor every interval and drains while there is a full batch; several
 * worker processes may run them, the cursor lock lets one at a time through.
 */
import type { Logger } from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { dispatchWebhookEvents, probeChannels, readOutbox, sweepCheckoutSessions, type Services } from '../flows/index.ts';
import { serializeEvent } from '../events/index.ts';
import type { NatsConfig } from '../config/index.ts';

export interface Loop {
  stop(): Promise<void>;
}

const batchSize = 1000;

/** Runs `round` every `intervalMs`, at once again while it reports a full batch, until stopped. */
export function startLoop(options: { name: string; intervalMs: number; logger: Logger; round: () => Promise<number | undefined> }): Loop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const tick = async (): Promise<void> => {
    try {
      for (;;) {
        const count = await options.round();
        if (stopped || count === undefined || count < batchSize) break;
      }
    } catch (err) {
      options.logger.warn({ err, loop: options.name }, 'outbox round failed; retrying');
    }
    if (!stopped) {
      timer = setTimeout(() => {
        current = tick();
      }, options.intervalMs);
    }
  };
  current = tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}

export function startWebhookDispatcher(services: Services): Loop {
  return startLoop({
    name: 'webhook_dispatch',
    intervalMs: services.config.webhooks.dispatchIntervalMs,
    logger: services.logger,
    round: () => dispatchWebhookEvents(services, { limit: batchSize }),
  });
}

/** The channels' heartbeat: every CHANNEL_PROBE_INTERVAL, each active channel account and built-in channel. */
export function startHealthProbes(services: Services, builtInProbeUrls: ReadonlyMap<string, string>): Loop {
  return startLoop({
    name: 'channel_probes',
    intervalMs: services.config.channelHealth.probeIntervalMs,
    logger: services.logger,
    round: async () => {
      await probeChannels(services, builtInProbeUrls);
      return 0;
    },
  });
}

/** Checkout sessions: complete the ones whose payment succeeded, expire the ones that ran out. */
export function startCheckoutSweeper(services: Services): Loop {
  return startLoop({
    name: 'checkout_sweep',
    intervalMs: services.config.env === 'test' ? 500 : 2000,
    logger: services.logger,
    round: async () => {
      await sweepCheckoutSessions(services, { limit: 100 });
      return 0;
    },
  });
}

/** NATS subject of an event: `<prefix>.<test|live>.<merchant>.<type>` (the type's own dot adds a token). */
export function natsSubject(config: NatsConfig, event: { livemode: boolean; merchant_id: string; type: string }): string {
  return `${config.subjectPrefix}.${event.livemode ? 'live' : 'test'}.${event.merchant_id}.${event.type}`;
}

/**
 * Publishes every event to a JetStream stream, with the event id as `Nats-Msg-Id` so the stream drops
 * the duplicates a retried round produces. The cursor advances only after JetStream acknowledged the
 * whole batch.
 */
export async function startNatsPublisher(services: Services, config: NatsConfig): Promise<Loop> {
  const connection: NatsConnection = await connect({ servers: config.url, name: 'fenpay-events', maxReconnectAttempts: -1 });
  const manager = await jetstreamManager(connection);
  try {
    await manager.streams.info(config.stream);
  } catch {
    await manager.streams.add({ name: config.stream, subjects: [`${config.subjectPrefix}.>`] });
  }
  const js: JetStreamClient = jetstream(connection);
  const loop = startLoop({
    name: 'nats_publish',
    intervalMs: services.config.webhooks.dispatchIntervalMs,
    logger: services.logger,
    round: () =>
      readOutbox(services, 'nats', { limit: batchSize, withData: true }, async (_trx, events) => {
        await Promise.all(
          events.map((event) => js.publish(natsSubject(config, event), JSON.stringify(serializeEvent(event)), { msgID: event.id })),
        );
      }),
  });
  return {
    async stop() {
      await loop.stop();
      await connection.drain();
    },
  };
}
