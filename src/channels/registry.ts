/** Which adapter serves which payment method type. Routing across several adapters is a later issue. */
import type { ChannelAdapter } from './channel.ts';

export class ChannelRegistry {
  readonly #byId = new Map<string, ChannelAdapter>();
  readonly #byMethod = new Map<string, ChannelAdapter>();

  constructor(adapters: readonly ChannelAdapter[]) {
    for (const adapter of adapters) {
      this.#byId.set(adapter.id, adapter);
      for (const type of adapter.paymentMethodTypes) if (!this.#byMethod.has(type)) this.#byMethod.set(type, adapter);
    }
  }

  get(id: string): ChannelAdapter | undefined {
    return this.#byId.get(id);
  }

  forPaymentMethodType(type: string): ChannelAdapter | undefined {
    return this.#byMethod.get(type);
  }

  supportedPaymentMethodTypes(): string[] {
    return [...this.#byMethod.keys()];
  }

  all(): ChannelAdapter[] {
    return [...this.#byId.values()];
  }
}
