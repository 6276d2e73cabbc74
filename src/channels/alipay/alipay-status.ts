/**
 * Exhaustive maps of Alipay's trade statuses and refusal codes into Fenpay's vocabulary. A status or
 * code outside them is unknown, and unknown is processing: never a success, never a failure.
 */
import type { ChannelFailure } from '../channel.ts';

export const alipayTradeStatuses = ['WAIT_BUYER_PAY', 'TRADE_SUCCESS', 'TRADE_FINISHED', 'TRADE_CLOSED'] as const;
export type AlipayTradeStatus = (typeof alipayTradeStatuses)[number];

/**
 * What each status means for the payment. TRADE_CLOSED is two things (channels-cn.md 6.4): an unpaid
 * trade that timed out or was closed, or a paid one fully refunded, told apart by `send_pay_date`.
 */
export const tradeStatusMeanings: Readonly<Record<AlipayTradeStatus, 'waiting' | 'paid' | 'closed'>> = {
  WAIT_BUYER_PAY: 'waiting',
  TRADE_SUCCESS: 'paid',
  // Paid, and no longer refundable: still a success.
  TRADE_FINISHED: 'paid',
  TRADE_CLOSED: 'closed',
};

export function isKnownTradeStatus(status: string | undefined): status is AlipayTradeStatus {
  return status !== undefined && (alipayTradeStatuses as readonly string[]).includes(status);
}

/**
 * sub_codes that do not decide anything: Alipay failed inside, or the trade's state is not what the
 * call assumed and a query will say what it is.
 */
export const undecidedSubCodes: ReadonlySet<string> = new Set([
  'ACQ.SYSTEM_ERROR',
  'SYSTEM_ERROR',
  'isp.unknow-error',
  'aop.ACQ.SYSTEM_ERROR',
  // Precreate of an order already paid: the payment succeeded, which only a query can report with its amount.
  'ACQ.TRADE_HAS_SUCCESS',
]);

/** Why Alipay refused to create an order, in Stripe's vocabulary; `alipay_declined` when it does not say. */
export const orderRefusals: Readonly<Record<string, ChannelFailure>> = {
  'ACQ.TOTAL_FEE_EXCEED': { code: 'card_declined', declineCode: 'alipay_amount_exceeds_limit', message: 'The amount is above what Alipay accepts for one order.' },
  'ACQ.CONTEXT_INCONSISTENT': {
    code: 'processing_error',
    declineCode: 'alipay_order_inconsistent',
    message: 'Alipay already has an order with this number and different details.',
  },
  'ACQ.INVALID_PARAMETER': { code: 'processing_error', declineCode: 'alipay_invalid_request', message: 'Alipay rejected the order as invalid.' },
  'ACQ.PRODUCT_CODE_ERROR': { code: 'processing_error', declineCode: 'alipay_merchant_not_allowed', message: 'The Alipay app is not signed up for this product.' },
  'ACQ.ACCESS_FORBIDDEN': { code: 'processing_error', declineCode: 'alipay_merchant_not_allowed', message: 'The Alipay app may not use this method.' },
  'ACQ.PARTNER_ERROR': { code: 'processing_error', declineCode: 'alipay_merchant_not_allowed', message: 'The Alipay app and seller do not match.' },
  'ACQ.SELLER_BEEN_BLOCKED': { code: 'processing_error', declineCode: 'alipay_merchant_not_allowed', message: 'The Alipay seller account is restricted.' },
  'ACQ.EXIST_FORBIDDEN_WORD': { code: 'processing_error', declineCode: 'alipay_forbidden_word', message: 'Alipay refused the order subject.' },
};

export const genericRefusal: ChannelFailure = { code: 'card_declined', declineCode: 'alipay_declined', message: 'Alipay declined the order.' };

/** 40001/40002/40006: the request itself was refused (missing or invalid parameter, signature, permission). */
export const requestRefusal: ChannelFailure = {
  code: 'processing_error',
  declineCode: 'alipay_request_rejected',
  message: 'Alipay rejected the request (parameters, signature or permissions).',
};
