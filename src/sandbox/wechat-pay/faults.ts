/**
 * Fault switches: each arms the next N occurrences of one misbehaviour, then disarms itself.
 *
 * API faults hit the next N calls to /v3/*. The call takes effect first (an order is created, a
 * refund accepted); only the answer goes wrong, which is the case that matters: the merchant cannot
 * know what happened and must not guess.
 *   http_500       a bare, unsigned HTTP 500 (a gateway in between failed)
 *   system_error   HTTP 500 {"code":"SYSTEM_ERROR"}, signed
 *   hang           no answer at all until the client gives up
 *   bad_signature  the real answer with a signature that does not verify
 * Notification faults hit the next N notifications:
 *   notify_duplicate    delivered twice, same id
 *   notify_out_of_order held back and delivered after the notification that follows it
 *   notify_sign_test    preceded by a WECHATPAY/SIGNTEST/ probe that must be refused
 *   notify_drop         never sent
 * Refund faults settle the next N refunds as refund_abnormal (ABNORMAL) or refund_closed (CLOSED).
 */

export const apiFaultKinds = ['http_500', 'system_error', 'hang', 'bad_signature'] as const;
export const notificationFaultKinds = ['notify_duplicate', 'notify_out_of_order', 'notify_sign_test', 'notify_drop'] as const;
export const refundFaultKinds = ['refund_abnormal', 'refund_closed'] as const;
export const faultKinds = [...apiFaultKinds, ...notificationFaultKinds, ...refundFaultKinds] as const;

export type ApiFaultKind = (typeof apiFaultKinds)[number];
export type NotificationFaultKind = (typeof notificationFaultKinds)[number];
export type RefundFaultKind = (typeof refundFaultKinds)[number];
export type FaultKind = (typeof faultKinds)[number];

export function isFaultKind(value: unknown): value is FaultKind {
  return typeof value === 'string' && (faultKinds as readonly string[]).includes(value);
}

export interface WechatPayFaults {
  /** Arms `kind` for the next `count` occurrences (added to any already armed). */
  arm(kind: FaultKind, count?: number): void;
  /** Takes one armed API fault, if any. */
  takeApi(): ApiFaultKind | undefined;
  take(kind: NotificationFaultKind | RefundFaultKind): boolean;
  /** Armed counts, for the control API. */
  pending(): Readonly<Partial<Record<FaultKind, number>>>;
  clear(): void;
}

export function createFaults(): WechatPayFaults {
  const armed = new Map<FaultKind, number>();
  const take = (kind: FaultKind): boolean => {
    const left = armed.get(kind) ?? 0;
    if (left <= 0) return false;
    if (left === 1) armed.delete(kind);
    else armed.set(kind, left - 1);
    return true;
  };
  return {
    arm(kind, count = 1) {
      if (!Number.isSafeInteger(count) || count < 1) throw new RangeError('a fault is armed for at least one occurrence');
      armed.set(kind, (armed.get(kind) ?? 0) + count);
    },
    takeApi: () => apiFaultKinds.find((kind) => take(kind)),
    take,
    pending: () => Object.fromEntries(armed),
    clear: () => armed.clear(),
  };
}
