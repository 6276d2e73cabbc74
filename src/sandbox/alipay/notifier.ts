/**
 * Asynchronous notifications, as Alipay sends them: a form-urlencoded POST to `notify_url`, signed
 * with the Alipay key (rsaCheckV1 content), acknowledged only by the body `success`. Anything else is
 * retried on Alipay's schedule (4m, 10m, 10m, 1h, 2h, 6h, 15h: eight notifications in about 25 hours),
 * divided by `clockScale`. `notify_id` and the whole body stay the same across retries.
 */
import { randomBytes } from 'node:crypto';
import type { FaultBoard } from './faults.ts';
import { signNotificationParams } from './signing.ts';
import { beijingDateTime } from './time.ts';

/** Alipay's documented retry delays after the first notification, in minutes. */
export const notifyRetryScheduleMinutes: readonly number[] = [4, 10, 10, 60, 120, 360, 900];

export type DeliveryResult = 'acknowledged' | 'rejected' | 'error' | 'unreachable';

export interface DeliveryAttempt {
  readonly at: Date;
  readonly result: DeliveryResult;
  readonly httpStatus: number | undefined;
  /** The merchant's answer, truncated. */
  readonly answer: string | undefined;
  /** A copy sent by the duplicate fault; it does not count towards the schedule. */
  readonly duplicate: boolean;
}

export interface NotificationRecord {
  readonly notifyId: string;
  readonly url: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly body: string;
  readonly attempts: DeliveryAttempt[];
  acknowledged: boolean;
  /** No further attempt will be made (acknowledged, schedule exhausted, or the emulator stopped). */
  finished: boolean;
}

export interface NotifierOptions {
  readonly alipayPrivateKey: string;
  readonly faults: FaultBoard;
  readonly now: () => Date;
  readonly clockScale: number;
  readonly deliveryTimeoutMs: number;
}

export interface Notifier {
  /** Queues a notification; `fields` are the business fields (trade_status, out_trade_no, …). */
  send(url: string, fields: Readonly<Record<string, string>>): NotificationRecord;
  records(): readonly NotificationRecord[];
  stop(): void;
}

function formEncode(fields: Readonly<Record<string, string>>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
}

export function createNotifier(options: NotifierOptions): Notifier {
  const records: NotificationRecord[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<AbortController>();
  let held: { record: NotificationRecord; release: () => void } | undefined;
  let stopped = false;

  function later(delayMs: number, run: () => void): void {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopped) run();
    }, delayMs);
    timer.unref();
    timers.add(timer);
  }

  async function post(record: NotificationRecord, duplicate: boolean): Promise<DeliveryResult> {
    const at = options.now();
    if (!duplicate && options.faults.takeNotification('unreachable')) {
      record.attempts.push({ at, result: 'unreachable', httpStatus: undefined, answer: undefined, duplicate });
      return 'unreachable';
    }
    const controller = new AbortController();
    inFlight.add(controller);
    const timeout = setTimeout(() => controller.abort(), options.deliveryTimeoutMs);
    try {
      const response = await fetch(record.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: record.body,
        signal: controller.signal,
        redirect: 'manual',
      });
      const answer = await response.text();
      // Alipay wants exactly `success`; a page that merely contains it is not an acknowledgement.
      const result: DeliveryResult = response.status === 200 && answer === 'success' ? 'acknowledged' : 'rejected';
      record.attempts.push({ at, result, httpStatus: response.status, answer: answer.slice(0, 200), duplicate });
      return result;
    } catch {
      record.attempts.push({ at, result: 'error', httpStatus: undefined, answer: undefined, duplicate });
      return 'error';
    } finally {
      clearTimeout(timeout);
      inFlight.delete(controller);
    }
  }

  async function attempt(record: NotificationRecord, retryIndex: number, sendDuplicate: boolean): Promise<void> {
    if (stopped) return;
    const result = await post(record, false);
    if (sendDuplicate && !stopped) await post(record, true);
    if (result === 'acknowledged' || record.acknowledged) {
      record.acknowledged = true;
      record.finished = true;
      return;
    }
    const delayMinutes = notifyRetryScheduleMinutes[retryIndex];
    if (delayMinutes === undefined || stopped) {
      record.finished = true;
      return;
    }
    later((delayMinutes * 60_000) / options.clockScale, () => void attempt(record, retryIndex + 1, false));
  }

  return {
    send(url, fields) {
      const notifyId = randomBytes(16).toString('hex');
      const unsigned: Record<string, string> = {
        ...fields,
        notify_time: beijingDateTime(options.now()),
        notify_type: 'trade_status_sync',
        notify_id: notifyId,
        charset: 'utf-8',
        version: '1.0',
        sign_type: 'RSA2',
      };
      const signed = { ...unsigned, sign: signNotificationParams(unsigned, options.alipayPrivateKey) };
      const record: NotificationRecord = { notifyId, url, fields: signed, body: formEncode(signed), attempts: [], acknowledged: false, finished: false };
      records.push(record);
      if (stopped) {
        record.finished = true;
        return record;
      }
      const duplicate = options.faults.takeNotification('duplicate');
      let started = false;
      const deliver = (): Promise<void> => {
        if (started) return Promise.resolve();
        started = true;
        if (held?.record === record) held = undefined;
        return attempt(record, 0, duplicate);
      };
      const previous = held;
      held = undefined;
      if (options.faults.takeNotification('out_of_order')) {
        // Held back until the next notification has been delivered once, or for a while if none comes.
        previous?.release();
        held = { record, release: () => void deliver() };
        later(Math.max(50, 5_000 / options.clockScale), () => void deliver());
        return record;
      }
      const first = deliver();
      // The one held back goes after this one: the merchant sees them reversed.
      if (previous !== undefined) void first.finally(() => previous.release());
      return record;
    },
    records: () => records,
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const controller of inFlight) controller.abort();
      for (const record of records) if (!record.acknowledged) record.finished = true;
    },
  };
}
