/**
 * Notifications as WeChat Pay sends them: a JSON envelope with the resource encrypted by the APIv3
 * key, POSTed with Wechatpay-* signature headers (re-signed on every attempt, same id), counted as
 * received only on HTTP 2xx, and otherwise retried on WeChat's schedule
 * 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h (24h4m in all), divided by clockScale.
 */
import { randomUUID } from 'node:crypto';
import { encryptResource, randomBase64, randomString } from './crypto.ts';
import type { WechatPayFaults } from './faults.ts';

export const retryScheduleSeconds: readonly number[] = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600];

const firstRetrySeconds = 15;

export interface NotificationRequest {
  readonly url: string;
  readonly eventType: 'TRANSACTION.SUCCESS' | 'REFUND.SUCCESS' | 'REFUND.ABNORMAL' | 'REFUND.CLOSED';
  readonly summary: string;
  readonly originalType: 'transaction' | 'refund';
  readonly resource: Readonly<Record<string, unknown>>;
}

export interface DeliveryRecord {
  readonly id: string;
  readonly eventType: string;
  readonly url: string;
  /** 1 for the first try, 2 for the first retry, …; 0 for a signature-test probe. */
  readonly attempt: number;
  readonly probe: boolean;
  readonly at: string;
  readonly status: number | undefined;
  readonly error: string | undefined;
}

export interface NotifierOptions {
  readonly apiV3Key: string;
  readonly faults: WechatPayFaults;
  readonly clockScale: number;
  readonly now: () => Date;
  readonly beijingTime: (date: Date) => string;
  /** Signs `timestamp\nnonce\nbody\n`; returns the serial to send with it. */
  readonly signer: () => Promise<{ serial: string; sign: (message: string) => string }>;
  readonly deliveryTimeoutMs?: number;
}

export interface Notifier {
  send(request: NotificationRequest): void;
  deliveries(): readonly DeliveryRecord[];
  /** Notifications not sent because of notify_drop. */
  dropped(): readonly string[];
  stop(): void;
}

interface Envelope {
  readonly id: string;
  readonly url: string;
  readonly eventType: string;
  readonly body: string;
}

export function createNotifier(options: NotifierOptions): Notifier {
  const records: DeliveryRecord[] = [];
  const droppedIds: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const controllers = new Set<AbortController>();
  let held: Envelope[] = [];
  let stopped = false;

  function later(delayMs: number, task: () => void): void {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      task();
    }, delayMs);
    timers.add(timer);
  }

  async function post(envelope: Envelope, attempt: number, probe: boolean): Promise<boolean> {
    if (stopped) return true;
    const timestamp = String(Math.floor(options.now().getTime() / 1000));
    const nonce = randomString(32);
    const signer = await options.signer();
    const signature = probe ? `WECHATPAY/SIGNTEST/${randomBase64(64)}` : signer.sign(`${timestamp}\n${nonce}\n${envelope.body}\n`);
    const controller = new AbortController();
    controllers.add(controller);
    const timeout = setTimeout(() => controller.abort(), options.deliveryTimeoutMs ?? 5_000);
    let status: number | undefined;
    let error: string | undefined;
    try {
      const response = await fetch(envelope.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Wechatpay-Nonce': nonce,
          'Wechatpay-Signature': signature,
          'Wechatpay-Timestamp': timestamp,
          'Wechatpay-Serial': signer.serial,
          'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
          'Request-ID': randomUUID(),
        },
        body: envelope.body,
        signal: controller.signal,
      });
      status = response.status;
      await response.arrayBuffer();
    } catch (caught) {
      error = caught instanceof Error ? caught.name : 'error';
    } finally {
      clearTimeout(timeout);
      controllers.delete(controller);
    }
    if (!stopped) records.push({ id: envelope.id, eventType: envelope.eventType, url: envelope.url, attempt, probe, at: options.now().toISOString(), status, error });
    return status !== undefined && status >= 200 && status < 300;
  }

  /** Try, and on anything but 2xx schedule the next try until the schedule runs out. */
  async function deliver(envelope: Envelope, attempt: number): Promise<void> {
    const received = await post(envelope, attempt, false);
    const delaySeconds = retryScheduleSeconds[attempt - 1];
    if (received || delaySeconds === undefined) return;
    later((delaySeconds * 1000) / options.clockScale, () => void deliver(envelope, attempt + 1));
  }

  async function dispatch(envelope: Envelope): Promise<void> {
    if (options.faults.take('notify_sign_test')) await post(envelope, 0, true);
    const duplicate = options.faults.take('notify_duplicate');
    const first = deliver(envelope, 1);
    if (duplicate) await Promise.all([first, deliver(envelope, 1)]);
    else await first;
  }

  return {
    send(request) {
      const id = randomUUID();
      const resource = encryptResource(JSON.stringify(request.resource), options.apiV3Key, request.originalType);
      const body = JSON.stringify({
        id,
        create_time: options.beijingTime(options.now()),
        resource_type: 'encrypt-resource',
        event_type: request.eventType,
        summary: request.summary,
        resource: { original_type: request.originalType, ...resource },
      });
      const envelope: Envelope = { id, url: request.url, eventType: request.eventType, body };
      if (options.faults.take('notify_drop')) {
        droppedIds.push(id);
        return;
      }
      if (options.faults.take('notify_out_of_order')) {
        held.push(envelope);
        // Released after the next notification, or after the first retry interval if none comes.
        later((firstRetrySeconds * 1000) / options.clockScale, () => {
          const release = held;
          held = [];
          for (const waiting of release) void dispatch(waiting);
        });
        return;
      }
      const release = held;
      held = [];
      void dispatch(envelope).then(() => {
        for (const waiting of release) void dispatch(waiting);
      });
    },
    deliveries: () => [...records],
    dropped: () => [...droppedIds],
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const controller of controllers) controller.abort();
      held = [];
    },
  };
}
