/**
 * Optional publication of events to NATS JetStream, against the real server (127.0.0.1:4222 here,
 * FENPAY_TEST_NATS_URL elsewhere). Each run uses its own stream and subject prefix and deletes them.
 * Without a reachable server the test is skipped loudly, unless FENPAY_REQUIRE_NATS=1 (CI) makes
 * that a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { randomToken } from '../src/kernel/index.ts';
import { startTestFenpay, type TestFenpay } from './support/fenpay.ts';

const natsUrl = process.env.FENPAY_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const required = process.env.FENPAY_REQUIRE_NATS === '1';

async function reachable(): Promise<NatsConnection | undefined> {
  try {
    return await connect({ servers: natsUrl, timeout: 2000, maxReconnectAttempts: 0 });
  } catch (error) {
    if (required) throw error;
    console.warn(`NATS at ${natsUrl} is not reachable: skipping the JetStream publication test`);
    return undefined;
  }
}

const connection = await reachable();

describe.skipIf(connection === undefined)('events on NATS JetStream', () => {
  const suffix = randomToken(8);
  const stream = `FENPAY_TEST_${suffix}`;
  const prefix = `fenpaytest.${suffix}`;
  let fenpay: TestFenpay;
  let manager: JetStreamManager;

  beforeAll(async () => {
    manager = await jetstreamManager(connection!);
    fenpay = await startTestFenpay({ env: { NATS_URL: natsUrl, NATS_STREAM: stream, NATS_SUBJECT_PREFIX: prefix, WEBHOOK_DISPATCH_INTERVAL: '50ms' } });
  });
  afterAll(async () => {
    await fenpay?.close();
    await manager?.streams.delete(stream).catch(() => false);
    await connection?.drain();
  });

  it('publishes every event once, with the event id as the message id, in the event shape', async () => {
    const shop = await fenpay.createMerchant();
    const intent = await shop.stripe.paymentIntents.create({ amount: 1234, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const expected = (await shop.stripe.events.list({ limit: 100 })).data;
    expect(expected.length).toBeGreaterThanOrEqual(3);

    const js = jetstream(connection!);
    const consumer = await js.consumers.get(stream); // an ordered consumer over the whole stream
    const seen = new Map<string, { subject: string; msgId: string | undefined; body: { id: string; type: string; data: { object: { id: string } } } }>();
    const deadline = Date.now() + 20_000;
    while (seen.size < expected.length && Date.now() < deadline) {
      const batch = await consumer.fetch({ max_messages: 100, expires: 1000 });
      for await (const message of batch) {
        const body = message.json<{ id: string; type: string; data: { object: { id: string } } }>();
        seen.set(body.id, { subject: message.subject, msgId: message.headers?.get('Nats-Msg-Id'), body });
      }
    }
    for (const event of expected) {
      const got = seen.get(event.id);
      expect(got, `event ${event.type} ${event.id} on NATS`).toBeDefined();
      expect(got!.subject).toBe(`${prefix}.test.${shop.merchant.id}.${event.type}`);
      expect(got!.msgId).toBe(event.id);
      expect(got!.body.type).toBe(event.type);
    }
    expect(seen.get(expected.find((e) => e.type === 'payment_intent.succeeded')!.id)!.body.data.object.id).toBe(intent.id);
    // Exactly once in the stream: JetStream deduplicates by message id if a round is retried.
    const info = await manager.streams.info(stream);
    expect(info.state.messages).toBe(seen.size);
  });
});
