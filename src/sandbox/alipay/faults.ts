/**
 * Fault switches: the next N gateway calls fail in a chosen way, the next N notifications misbehave.
 * Each switch is a counter that is consumed as calls happen, so a test says exactly what breaks.
 */
export const gatewayFaultKinds = ['http_5xx', 'timeout', 'bad_signature', 'system_error'] as const;
export type GatewayFaultKind = (typeof gatewayFaultKinds)[number];

export const notificationFaultKinds = ['duplicate', 'out_of_order', 'unreachable'] as const;
export type NotificationFaultKind = (typeof notificationFaultKinds)[number];

export interface GatewayFaultOptions {
  /** How many calls this applies to (default 1). */
  readonly count?: number;
  /** Only calls of this OpenAPI method (default: any API method). */
  readonly method?: string;
  /**
   * Whether the call still takes effect before its answer is lost. Defaults follow what usually
   * happens: a timeout or a corrupted answer hides work that was done; a 5xx or 20000 did nothing.
   */
  readonly applied?: boolean;
}

export interface GatewayFault {
  readonly kind: GatewayFaultKind;
  remaining: number;
  readonly method: string | undefined;
  readonly applied: boolean;
}

export interface NotificationFault {
  readonly kind: NotificationFaultKind;
  remaining: number;
}

export interface AlipayFaults {
  /** The next `count` API calls (optionally of one method) fail this way. */
  gateway(kind: GatewayFaultKind, options?: GatewayFaultOptions): void;
  /**
   * duplicate: the next `count` notifications are delivered twice; out_of_order: the next `count`
   * notifications are held back and delivered after the one that follows; unreachable: the next
   * `count` delivery attempts never reach the merchant (and are retried on the schedule).
   */
  notifications(kind: NotificationFaultKind, options?: { readonly count?: number }): void;
  /** While on, every API call answers 503 and the health endpoint says so. */
  outage(on: boolean): void;
  clear(): void;
  pending(): { readonly gateway: readonly GatewayFault[]; readonly notifications: readonly NotificationFault[]; readonly outage: boolean };
}

export interface FaultBoard extends AlipayFaults {
  takeGateway(method: string): GatewayFault | undefined;
  takeNotification(kind: NotificationFaultKind): boolean;
  readonly inOutage: boolean;
}

function countOf(count: number | undefined): number {
  const value = count ?? 1;
  if (!Number.isInteger(value) || value < 1) throw new RangeError('a fault count is a positive integer');
  return value;
}

export function createFaultBoard(): FaultBoard {
  let gateway: GatewayFault[] = [];
  let notifications: NotificationFault[] = [];
  let outage = false;
  return {
    gateway(kind, options = {}) {
      const applied = options.applied ?? (kind === 'timeout' || kind === 'bad_signature');
      gateway.push({ kind, remaining: countOf(options.count), method: options.method, applied });
    },
    notifications(kind, options = {}) {
      notifications.push({ kind, remaining: countOf(options.count) });
    },
    outage(on) {
      outage = on;
    },
    clear() {
      gateway = [];
      notifications = [];
      outage = false;
    },
    pending() {
      return { gateway: gateway.map((f) => ({ ...f })), notifications: notifications.map((f) => ({ ...f })), outage };
    },
    takeGateway(method) {
      const fault = gateway.find((f) => f.method === undefined || f.method === method);
      if (!fault) return undefined;
      fault.remaining -= 1;
      if (fault.remaining <= 0) gateway = gateway.filter((f) => f !== fault);
      return fault;
    },
    takeNotification(kind) {
      const fault = notifications.find((f) => f.kind === kind);
      if (!fault) return false;
      fault.remaining -= 1;
      if (fault.remaining <= 0) notifications = notifications.filter((f) => f !== fault);
      return true;
    },
    get inOutage() {
      return outage;
    },
  };
}
