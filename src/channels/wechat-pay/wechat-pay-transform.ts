/**
 * Pure translation between Fenpay's neutral requests and WeChat Pay API v3: which endpoint a flow
 * uses, the request bodies, and WeChat's answers as ChannelOutcomes. An answer that lacks what its
 * state promises, or that talks about another order or merchant, is processing, never a guess.
 */
import type { KeyObject } from 'node:crypto';
import { assertNever } from '../../kernel/index.ts';
import type { AuthorizeRequest, ChannelOutcome, NextAction, OperationOutcome, PaymentFlow } from '../channel.ts';
import { appPaySign, jsapiPaySign } from './wechat-pay-crypto.ts';
import { isRefundStatus, isTradeState, refundStatusOutcomes, tradeStateOutcomes, unknownErrorCodes } from './wechat-pay-status.ts';
import { fenToWire, type ErrorAnswer, type PrepayAnswer, type RefundAnswer, type TransactionAnswer } from './wechat-pay-wire.ts';

/** WeChat's API names for the four direct-merchant payment products. */
export type WechatTradeType = 'native' | 'jsapi' | 'h5' | 'app';

/** A desktop "page" flow is a QR too: WeChat has no desktop cashier page of its own. */
export function tradeTypeFor(flow: PaymentFlow | undefined): WechatTradeType {
  switch (flow) {
    case undefined:
    case 'qr':
    case 'page':
      return 'native';
    case 'jsapi':
      return 'jsapi';
    case 'wap':
      return 'h5';
    case 'app':
      return 'app';
    default:
      return assertNever(flow, 'unknown payment flow');
  }
}

/** WeChat Pay direct merchants are paid in CNY only. */
export function wechatCurrency(currency: string): string | undefined {
  return currency.toLowerCase() === 'cny' ? 'CNY' : undefined;
}

/** Cuts text to at most `maxBytes` UTF-8 bytes without splitting a character (WeChat: description ≤ 127 bytes). */
export function truncateUtf8(text: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}

/** RFC 3339 in Beijing time, as WeChat writes and expects times: `2031-06-15T20:00:00+08:00`. */
export function beijingTime(date: Date): string {
  const shifted = new Date(date.getTime() + 8 * 3_600_000);
  return `${shifted.toISOString().slice(0, 19)}+08:00`;
}

export interface PrepayRequest {
  readonly tradeType: WechatTradeType;
  readonly body: Readonly<Record<string, unknown>>;
}

export type PrepayBuild = { readonly ok: true; readonly request: PrepayRequest } | { readonly ok: false; readonly message: string };

/** The body of POST /v3/pay/transactions/{native|jsapi|h5|app}; refuses requests WeChat would refuse. */
export function toPrepayRequest(request: AuthorizeRequest, merchant: { appId: string; mchId: string }, defaultNotifyUrl: string | undefined): PrepayBuild {
  const currency = wechatCurrency(request.currency);
  if (currency === undefined) return { ok: false, message: `WeChat Pay accepts CNY only, not ${request.currency.toUpperCase()}` };
  if (request.amount <= 0n) return { ok: false, message: 'WeChat Pay needs a positive amount' };
  const notifyUrl = request.notifyUrl ?? defaultNotifyUrl;
  if (notifyUrl === undefined) return { ok: false, message: 'WeChat Pay needs a notify URL' };
  const tradeType = tradeTypeFor(request.flow);
  const description = truncateUtf8(request.subject ?? request.description ?? request.orderNo, 127);
  const body: Record<string, unknown> = {
    appid: merchant.appId,
    mchid: merchant.mchId,
    description: description.length > 0 ? description : request.orderNo,
    out_trade_no: request.orderNo,
    ...(request.expiresAt === undefined ? {} : { time_expire: beijingTime(request.expiresAt) }),
    notify_url: notifyUrl,
    amount: { total: fenToWire(request.amount), currency },
  };
  if (tradeType === 'jsapi') {
    const openId = request.payer?.openId;
    if (openId === undefined || openId === '') return { ok: false, message: "WeChat JSAPI payments need the payer's openid" };
    body.payer = { openid: openId };
  }
  if (tradeType === 'h5') {
    const clientIp = request.payer?.clientIp;
    if (clientIp === undefined || clientIp === '') return { ok: false, message: "WeChat H5 payments need the payer's IP address" };
    body.scene_info = { payer_client_ip: clientIp, h5_info: { type: 'Wap' } };
  }
  return { ok: true, request: { tradeType, body } };
}

export interface SdkSigning {
  readonly appId: string;
  readonly mchId: string;
  readonly privateKey: KeyObject;
  readonly timestamp: number;
  readonly nonce: string;
}

function processing(reference: string | undefined, reason: string): ChannelOutcome {
  return { status: 'processing', reference, reason };
}

/**
 * The next action for a prepay answer. The order's reference is its out_trade_no until WeChat assigns
 * a transaction_id at payment: WeChat identifies unpaid orders by out_trade_no only.
 */
export function outcomeFromPrepay(
  tradeType: WechatTradeType,
  answer: PrepayAnswer,
  context: { readonly orderNo: string; readonly returnUrl: string | undefined; readonly signing: SdkSigning },
): ChannelOutcome {
  const { orderNo, signing } = context;
  const act = (action: NextAction): ChannelOutcome => ({ status: 'requires_action', reference: orderNo, action });
  switch (tradeType) {
    case 'native':
      return answer.codeUrl === undefined ? processing(orderNo, 'WeChat answered without a code_url') : act({ type: 'display_qr_code', data: answer.codeUrl });
    case 'h5': {
      if (answer.h5Url === undefined) return processing(orderNo, 'WeChat answered without an h5_url');
      // WeChat's documented way back to the merchant after an H5 payment: append redirect_url.
      const url = context.returnUrl === undefined ? answer.h5Url : `${answer.h5Url}${answer.h5Url.includes('?') ? '&' : '?'}redirect_url=${encodeURIComponent(context.returnUrl)}`;
      return act({ type: 'redirect_to_url', url });
    }
    case 'jsapi': {
      if (answer.prepayId === undefined) return processing(orderNo, 'WeChat answered without a prepay_id');
      const fields = { appId: signing.appId, timeStamp: String(signing.timestamp), nonceStr: signing.nonce, package: `prepay_id=${answer.prepayId}` };
      return act({ type: 'sdk_params', params: { ...fields, signType: 'RSA', paySign: jsapiPaySign(fields, signing.privateKey) } });
    }
    case 'app': {
      if (answer.prepayId === undefined) return processing(orderNo, 'WeChat answered without a prepay_id');
      const fields = { appid: signing.appId, timestamp: String(signing.timestamp), noncestr: signing.nonce, prepayid: answer.prepayId };
      return act({ type: 'sdk_params', params: { ...fields, partnerid: signing.mchId, package: 'Sign=WXPay', sign: appPaySign(fields, signing.privateKey) } });
    }
    default:
      return assertNever(tradeType, 'unknown trade type');
  }
}

/** A verified error answer: unknown for 5xx and the "try again" codes, a failure otherwise. */
export function outcomeFromError(status: number, error: ErrorAnswer | undefined, reference: string | undefined): ChannelOutcome {
  if (status >= 500 || error === undefined || unknownErrorCodes.has(error.code)) {
    return processing(reference, `WeChat answered HTTP ${status} ${error?.code ?? 'without an error code'}`);
  }
  return {
    status: 'failed',
    reference,
    failure: { code: 'processing_error', declineCode: error.code.toLowerCase(), message: `WeChat Pay refused the order: ${error.code} ${error.message}`.trim() },
  };
}

export function operationFromError(status: number, error: ErrorAnswer | undefined): OperationOutcome {
  if (status >= 500 || error === undefined || unknownErrorCodes.has(error.code)) {
    return { status: 'processing', reason: `WeChat answered HTTP ${status} ${error?.code ?? 'without an error code'}` };
  }
  return { status: 'failed', message: `WeChat Pay refused: ${error.code} ${error.message}`.trim() };
}

/** A transaction (query answer or TRANSACTION.* notification) as a ChannelOutcome. */
export function outcomeFromTransaction(transaction: TransactionAnswer, expected: { readonly orderNo: string; readonly mchId: string }): ChannelOutcome {
  const reference = transaction.transactionId ?? expected.orderNo;
  if (transaction.outTradeNo !== expected.orderNo || (transaction.mchId !== undefined && transaction.mchId !== expected.mchId)) {
    return processing(undefined, 'WeChat answered about another order or merchant');
  }
  const state = transaction.tradeState;
  if (!isTradeState(state)) return processing(reference, `unknown WeChat trade_state ${JSON.stringify(state)}`);
  const mapped = tradeStateOutcomes[state];
  switch (mapped) {
    case 'succeeded':
      // Echo what WeChat says was paid; the flow compares it with what was asked.
      if (transaction.transactionId === undefined || transaction.total === undefined || transaction.currency === undefined) {
        return processing(reference, `WeChat answered ${state} without transaction_id or amount`);
      }
      return { status: 'succeeded', reference: transaction.transactionId, amount: transaction.total, currency: transaction.currency.toLowerCase() };
    case 'processing':
      return processing(reference, state === 'NOTPAY' ? 'the buyer has not paid yet (NOTPAY)' : 'the buyer is paying (USERPAYING)');
    case 'canceled':
      return { status: 'canceled', reference };
    case 'failed':
      return {
        status: 'failed',
        reference,
        failure: { code: 'processing_error', declineCode: 'payerror', message: transaction.tradeStateDesc ?? 'The WeChat Pay payment failed.' },
      };
    case 'requires_action':
    case 'requires_capture':
      return processing(reference, `unexpected mapping for ${state}`);
    default:
      return assertNever(mapped, 'unmapped trade state');
  }
}

/** A refund (API answer or REFUND.* notification) as an OperationOutcome. */
export function outcomeFromRefund(refund: RefundAnswer, expected: { readonly refundNo: string; readonly refundAmount: bigint | undefined; readonly mchId: string }): OperationOutcome {
  if (refund.outRefundNo !== expected.refundNo || (refund.mchId !== undefined && refund.mchId !== expected.mchId)) {
    return { status: 'processing', reason: 'WeChat answered about another refund or merchant' };
  }
  if (!isRefundStatus(refund.status)) return { status: 'processing', reason: `unknown WeChat refund status ${JSON.stringify(refund.status)}` };
  const mapped = refundStatusOutcomes[refund.status];
  switch (mapped) {
    case 'succeeded':
      if (refund.refundId === undefined) return { status: 'processing', reason: 'WeChat answered SUCCESS without refund_id' };
      if (expected.refundAmount !== undefined && refund.refund !== expected.refundAmount) {
        return { status: 'processing', reason: `WeChat refunded ${refund.refund ?? 'an unknown amount'} fen, not ${expected.refundAmount}` };
      }
      return { status: 'succeeded', reference: refund.refundId };
    case 'processing':
      return {
        status: 'processing',
        reason: refund.status === 'ABNORMAL' ? 'the refund is ABNORMAL: finish it by hand on the WeChat Pay merchant platform' : 'WeChat is processing the refund',
      };
    case 'failed':
      return { status: 'failed', message: 'WeChat closed the refund (CLOSED)' };
    default:
      return assertNever(mapped, 'unmapped refund status');
  }
}
