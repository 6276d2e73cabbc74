/**
 * Fault switches: each arms the next N occurrences of one misbehaviour.
 *
 *   API faults (backTransReq.do and queryTrans.do, in arrival order):
 *     http_500        answer 500 without doing anything
 *     resp_code_03    answer a signed respCode 03 (交易通讯超时) without doing anything
 *     hang            do the work, then never answer (the caller times out: a lost answer)
 *     bad_signature   do the work, answer with a corrupted signature
 *     untrusted_cert  do the work, answer signed by a certificate from another root
 *   Notification faults (back notifications, in the order they are produced):
 *     notify_duplicate     deliver twice
 *     notify_out_of_order  hold back until the next notification has been delivered
 *     notify_drop          never deliver
 */
export const apiFaults = ['http_500', 'resp_code_03', 'hang', 'bad_signature', 'untrusted_cert'] as const;
export const notificationFaults = ['notify_duplicate', 'notify_out_of_order', 'notify_drop'] as const;
export type ApiFault = (typeof apiFaults)[number];
export type NotificationFault = (typeof notificationFaults)[number];
export type UnionPayFault = ApiFault | NotificationFault;

export function isFault(value: unknown): value is UnionPayFault {
  return typeof value === 'string' && ([...apiFaults, ...notificationFaults] as readonly string[]).includes(value);
}

export interface UnionPayFaults {
  /** Arms `fault` for the next `count` occurrences (default 1); adds to what is already armed. */
  inject(fault: UnionPayFault, count?: number): void;
  clear(): void;
  pending(): Readonly<Partial<Record<UnionPayFault, number>>>;
  /** The first armed API fault, consumed. */
  takeApi(): ApiFault | undefined;
  /** The first armed notification fault, consumed. */
  takeNotification(): NotificationFault | undefined;
}

export function createFaults(): UnionPayFaults {
  const armed = new Map<UnionPayFault, number>();
  function take<T extends UnionPayFault>(kinds: readonly T[]): T | undefined {
    for (const kind of kinds) {
      const left = armed.get(kind) ?? 0;
      if (left > 0) {
        if (left === 1) armed.delete(kind);
        else armed.set(kind, left - 1);
        return kind;
      }
    }
    return undefined;
  }
  return {
    inject(fault, count = 1) {
      if (!Number.isInteger(count) || count < 1) throw new RangeError('a fault count is a positive integer');
      armed.set(fault, (armed.get(fault) ?? 0) + count);
    },
    clear: () => armed.clear(),
    pending: () => Object.fromEntries(armed),
    takeApi: () => take(apiFaults),
    takeNotification: () => take(notificationFaults),
  };
}
