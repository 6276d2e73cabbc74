/** Which adapter serves which payment method type. Routing across several adapters is a later issue. */
import type { ChannelAdapter } from './channel.ts';

export class ChannelRegistry {
  readonly #byId = new Map<string, ChannelAdapter>();
  readonly #byMethod = new Map<string, ChannelAdapter[]>();

  constructor(adapters: readonly ChannelAdapter[]) {
    for (const adapter of adapters) {
      this.#byId.set(adapter.id, adapter);
      for (const type of adapter.paymentMethodTypes) this.#byMethod.set(type, [...(this.#byMethod.get(type) ?? []), adapter]);
    }
  }

  get(id: string): ChannelAdapter | undefined {
    return this.#byId.get(id);
  }

  /** The first channel serving this payment method type (in the given mode, when one is given). */
  forPaymentMethodType(type: string, livemode?: boolean): ChannelAdapter | undefined {
    const candidates = this.#byMethod.get(type) ?? [];
    if (livemode === undefined) return candidates[0];
    return candidates.find((c) => c.modes.includes(livemode ? 'live' : 'test'));
  }

  supportedPaymentMethodTypes(): string[] {
    return [...this.#byMethod.keys()];
  }

  all(): ChannelAdapter[] {
    return [...this.#byId.values()];
  }
}

/** The same adapter, serving only the given modes (its credentials are for those modes only). */
export function limitModes(adapter: ChannelAdapter, modes: readonly ('test' | 'live')[]): ChannelAdapter {
  const limited: ChannelAdapter = {
    id: adapter.id,
    displayName: adapter.displayName,
    paymentMethodTypes: adapter.paymentMethodTypes,
    modes,
    capabilities: adapter.capabilities,
    authorize: (request) => adapter.authorize(request),
    query: (order) => adapter.query(order),
    capture: (request) => adapter.capture(request),
    cancel: (order) => adapter.cancel(order),
    refund: (request) => adapter.refund(request),
  };
  return {
    ...limited,
    ...(adapter.queryRefund ? { queryRefund: (request) => adapter.queryRefund!(request) } : {}),
    ...(adapter.parseNotification ? { parseNotification: (request) => adapter.parseNotification!(request) } : {}),
  };
}
