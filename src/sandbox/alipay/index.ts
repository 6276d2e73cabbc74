/**
 * The Alipay emulator: speaks Alipay OpenAPI (RSA2) at `<prefix>/gateway.do` with its own keys, plays
 * the buyer on a bilingual cashier page, sends signed notifications on Alipay's retry schedule,
 * produces the daily trade bill, and breaks on request. Test mode and `npm start` point the Alipay
 * adapter here; live mode points the same adapter at openapi.alipay.com.
 */
export {
  createAlipayEmulator,
  type AlipayEmulator,
  type AlipayEmulatorCredentials,
  type AlipayEmulatorOptions,
  type AlipayTradeView,
} from './emulator.ts';
export type { BuyerAction } from './engine.ts';
export { gatewayFaultKinds, notificationFaultKinds, type AlipayFaults, type GatewayFaultKind, type GatewayFaultOptions, type NotificationFaultKind } from './faults.ts';
export { notifyRetryScheduleMinutes, type DeliveryAttempt, type NotificationRecord } from './notifier.ts';
export type { AlipayTradeStore, Trade, TradeStatus } from './trades.ts';
export { createMemoryTradeStore } from './trades.ts';
export { readZip } from './zip.ts';
export { decodeGbk } from './gbk.ts';
export type { RsaKeyPair } from './signing.ts';
