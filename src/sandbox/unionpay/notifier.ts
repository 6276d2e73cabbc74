/**
 * Back notifications (backUrl): a form POST, 10 s timeout, delivered when the merchant answers HTTP
 * 200 (channels-cn.md §5.1: "最多发送五次"). The reference quotes two retry schedules that disagree
 * ("0,1,2,4 分钟" and "1、2、4、5 分钟"); we send at once and then after 1, 2, 4 and 5 more minutes
 * — five sends in all, the second quote — each delay divided by clockScale.
 */
import type { UnionPayFaults } from './faults.ts';

export const defaultRetryMinutes: readonly number[] = [1, 2, 4, 5];
const notifyTimeoutMs = 10_000;
const notifyTimeoutFloorMs = 2_000;

export interface NotificationDelivery {
  readonly url: string;
  readonly orderId: string;
  readonly txnType: string;
  /** 1 for the first send of a notification, 2 for its first resend, … */
  readonly attempt: number;
  readonly at: Date;
  /** The merchant's HTTP status, or what happened instead. */
  readonly result: number | 'unreachable' | 'dropped' | 'held';
}

export interface Notifier {
  /** Signs nothing: `fields` arrive signed. Starts the delivery (or what a fault makes of it). */
  send(url: string, fields: Readonly<Record<string, string>>): void;
  deliveries(): readonly NotificationDelivery[];
  /** Releases notifications held back by notify_out_of_order. */
  flushHeld(): void;
  /** Resolves when nothing is being delivered or waiting for a retry. */
  idle(): Promise<void>;
  stop(): void;
}

export interface NotifierOptions {
  readonly faults: UnionPayFaults;
  readonly now: () => Date;
  readonly clockScale: number;
  readonly retryMinutes: readonly number[];
}

export function createNotifier(options: NotifierOptions): Notifier {
  const log: NotificationDelivery[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const controllers = new Set<AbortController>();
  const held: { url: string; fields: Readonly<Record<string, string>> }[] = [];
  let active = 0;
  let stopped = false;
  let waiters: (() => void)[] = [];
  const scaled = (ms: number) => Math.max(1, Math.ceil(ms / options.clockScale));

  function settle() {
    if (active === 0 && timers.size === 0) {
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve();
    }
  }

  function record(url: string, fields: Readonly<Record<string, string>>, attempt: number, result: NotificationDelivery['result']) {
    log.push({ url, orderId: fields['orderId'] ?? '', txnType: fields['txnType'] ?? '', attempt, at: options.now(), result });
  }

  async function attemptOnce(url: string, fields: Readonly<Record<string, string>>, attempt: number): Promise<boolean> {
    const controller = new AbortController();
    controllers.add(controller);
    // The timeout is compressed too, but never below what a local HTTP round trip needs.
    const timer = setTimeout(() => controller.abort(), Math.max(notifyTimeoutFloorMs, scaled(notifyTimeoutMs)));
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        body: new URLSearchParams(Object.entries(fields)).toString(),
        signal: controller.signal,
        redirect: 'manual',
      });
      await response.arrayBuffer().catch(() => undefined);
      record(url, fields, attempt, response.status);
      return response.status === 200;
    } catch {
      record(url, fields, attempt, 'unreachable');
      return false;
    } finally {
      clearTimeout(timer);
      controllers.delete(controller);
    }
  }

  function deliver(url: string, fields: Readonly<Record<string, string>>, attempt: number, afterFirst?: () => void) {
    if (stopped) return;
    active += 1;
    void attemptOnce(url, fields, attempt).then((delivered) => {
      active -= 1;
      afterFirst?.();
      const delayMinutes = options.retryMinutes[attempt - 1];
      if (!delivered && delayMinutes !== undefined && !stopped) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          deliver(url, fields, attempt + 1);
        }, scaled(delayMinutes * 60_000));
        timers.add(timer);
      }
      settle();
    });
  }

  function releaseHeld() {
    for (const { url, fields } of held.splice(0)) deliver(url, fields, 1);
  }

  return {
    send(url, fields) {
      if (stopped) return;
      switch (options.faults.takeNotification()) {
        case 'notify_drop':
          record(url, fields, 1, 'dropped');
          return;
        case 'notify_out_of_order':
          record(url, fields, 1, 'held');
          held.push({ url, fields });
          return;
        case 'notify_duplicate':
          deliver(url, fields, 1);
          deliver(url, fields, 1);
          return;
        case undefined:
          // Whatever was held back goes out after this one: the order is now reversed.
          deliver(url, fields, 1, held.length > 0 ? releaseHeld : undefined);
          return;
      }
    },
    deliveries: () => [...log],
    flushHeld: releaseHeld,
    idle: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        settle();
      }),
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const controller of controllers) controller.abort();
      held.length = 0;
      active = 0;
      settle();
    },
  };
}
