/**
 * Exhaustive maps of WeChat Pay's states into Fenpay's vocabulary. The Record types make the compiler
 * hold every documented value; anything else is unknown and stays processing until a query says more.
 */
import type { ChannelOutcome, OperationOutcome } from '../channel.ts';

export const tradeStates = ['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR'] as const;
export type TradeState = (typeof tradeStates)[number];

export const tradeStateOutcomes: Readonly<Record<TradeState, ChannelOutcome['status']>> = {
  SUCCESS: 'succeeded',
  // 转入退款: it was paid; what happened to the refunds is the refunds' business.
  REFUND: 'succeeded',
  // The order exists and waits for the buyer. A query cannot give back the QR or the SDK
  // parameters, so the attempt keeps the action it already has and stays undecided.
  NOTPAY: 'processing',
  USERPAYING: 'processing',
  CLOSED: 'canceled',
  REVOKED: 'canceled',
  PAYERROR: 'failed',
};

export function isTradeState(value: string): value is TradeState {
  return (tradeStates as readonly string[]).includes(value);
}

export const refundStatuses = ['SUCCESS', 'PROCESSING', 'ABNORMAL', 'CLOSED'] as const;
export type RefundStatus = (typeof refundStatuses)[number];

export const refundStatusOutcomes: Readonly<Record<RefundStatus, OperationOutcome['status']>> = {
  SUCCESS: 'succeeded',
  PROCESSING: 'processing',
  // 退款异常: the bank leg failed and the merchant must finish it by hand on the merchant platform,
  // where it may still succeed. Not final for us: an operator resolves it.
  ABNORMAL: 'processing',
  CLOSED: 'failed',
};

export function isRefundStatus(value: string): value is RefundStatus {
  return (refundStatuses as readonly string[]).includes(value);
}

/**
 * Error codes after which WeChat may or may not have acted: the answer is unknown, not a refusal.
 * (SYSTEM_ERROR "系统异常，请用相同参数重新调用"; BANKERROR; FREQUENCY_LIMITED; ORDERPAID is decided
 * by a query; a duplicate order number may belong to an order that was paid.)
 */
export const unknownErrorCodes: ReadonlySet<string> = new Set([
  'SYSTEM_ERROR',
  'SYSTEMERROR',
  'BANKERROR',
  'BANK_ERROR',
  'FREQUENCY_LIMITED',
  'RATELIMIT_EXCEEDED',
  'ORDERPAID',
  'OUT_TRADE_NO_USED',
]);
