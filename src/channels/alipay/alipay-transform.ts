/**
 * Pure translation: Fenpay's neutral requests into Alipay's biz_content, and Alipay's answers into
 * ChannelOutcomes. An answer missing what its status promises, or echoing another order, is
 * unverifiable and therefore processing, never a guess.
 */
import { assertNever } from '../../kernel/index.ts';
import type { AuthorizeRequest, ChannelFailure, ChannelOutcome, NextAction, OperationOutcome, OrderRef, RefundRequest } from '../channel.ts';
import { alipayCurrency, parseYuan, toYuan } from './alipay-amount.ts';
import { genericRefusal, isKnownTradeStatus, orderRefusals, requestRefusal, tradeStatusMeanings, undecidedSubCodes } from './alipay-status.ts';
import { codeBusinessFailed, codeSuccess, field, type AlipayResult } from './alipay-wire.ts';

/** What a call came back as: Alipay's verified answer, or nothing we can trust. */
export type AlipayCall = { readonly kind: 'answer'; readonly result: AlipayResult } | { readonly kind: 'unknown'; readonly reason: string };

export type BizContent = Record<string, unknown>;

const beijingOffsetMs = 8 * 60 * 60 * 1000;

/** Alipay's "yyyy-MM-dd HH:mm:ss" in Beijing time, whatever the host's time zone. */
export function beijingDateTime(date: Date): string {
  return new Date(date.getTime() + beijingOffsetMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** Alipay's subject: at most 256 characters, never empty. */
export function subjectOf(request: AuthorizeRequest): string {
  const subject = (request.subject ?? request.description ?? '').trim();
  return [...(subject === '' ? request.orderNo : subject)].slice(0, 256).join('');
}

export const productCodes = { qr: 'FACE_TO_FACE_PAYMENT', page: 'FAST_INSTANT_TRADE_PAY', wap: 'QUICK_WAP_WAY', app: 'QUICK_MSECURITY_PAY' } as const;

/** biz_content for a new order, any flow. */
export function orderBiz(request: AuthorizeRequest, flow: keyof typeof productCodes): BizContent {
  const biz: BizContent = {
    out_trade_no: request.orderNo,
    total_amount: toYuan(request.amount),
    subject: subjectOf(request),
    product_code: productCodes[flow],
  };
  if (request.description !== undefined && request.description !== '' && request.subject !== undefined) biz.body = [...request.description].slice(0, 128).join('');
  if (request.expiresAt !== undefined) biz.time_expire = beijingDateTime(request.expiresAt);
  if (flow === 'wap' && request.returnUrl !== undefined && request.returnUrl !== '') biz.quit_url = request.returnUrl;
  return biz;
}

export function orderRefBiz(order: OrderRef): BizContent {
  return { out_trade_no: order.orderNo };
}

export function refundBiz(request: RefundRequest): BizContent {
  return { out_trade_no: request.orderNo, refund_amount: toYuan(request.refundAmount), out_request_no: request.refundNo };
}

export function refundQueryBiz(request: RefundRequest): BizContent {
  return { out_trade_no: request.orderNo, out_request_no: request.refundNo, query_options: ['gmt_refund_pay'] };
}

function processing(reference: string | undefined, reason: string): ChannelOutcome {
  return { status: 'processing', reference, reason };
}

function describe(result: AlipayResult): string {
  return `${result.code}${result.subCode === undefined ? '' : ` ${result.subCode}`}`;
}

/** 40001, 40002, 40006: Alipay refused the request itself; nothing happened. */
function isRequestRefusal(code: string): boolean {
  return code === '40001' || code === '40002' || code === '40006';
}

function refusalOf(result: AlipayResult): ChannelFailure {
  if (isRequestRefusal(result.code)) return requestRefusal;
  return (result.subCode === undefined ? undefined : orderRefusals[result.subCode]) ?? genericRefusal;
}

/** Whether a refusal is final: an explicit 4000x with a sub_code that decides something. */
function isFinalRefusal(result: AlipayResult): boolean {
  if (isRequestRefusal(result.code)) return true;
  return result.code === codeBusinessFailed && result.subCode !== undefined && !undecidedSubCodes.has(result.subCode);
}

/** The answer to alipay.trade.precreate. */
export function outcomeFromPrecreate(call: AlipayCall, orderNo: string, imageUrl: string | undefined): ChannelOutcome {
  if (call.kind === 'unknown') return processing(undefined, call.reason);
  const { result } = call;
  if (result.code === codeSuccess) {
    const qrCode = field(result.body, 'qr_code');
    if (field(result.body, 'out_trade_no') !== orderNo || qrCode === undefined) return processing(undefined, 'alipay answered precreate for another order or without a qr_code');
    const action: NextAction = imageUrl === undefined ? { type: 'display_qr_code', data: qrCode } : { type: 'display_qr_code', data: qrCode, imageUrl };
    return { status: 'requires_action', reference: orderNo, action };
  }
  if (result.code === codeBusinessFailed && result.subCode === 'ACQ.TRADE_HAS_CLOSE') return { status: 'canceled', reference: undefined };
  if (isFinalRefusal(result)) return { status: 'failed', reference: undefined, failure: refusalOf(result) };
  return processing(undefined, `alipay answered ${describe(result)}`);
}

/**
 * The answer to alipay.trade.query. `resume` makes the next action for a payer still at the cashier:
 * Alipay's query does not return the original QR code or URL.
 */
export function outcomeFromQuery(call: AlipayCall, order: OrderRef, resume: () => NextAction): ChannelOutcome {
  if (call.kind === 'unknown') return processing(order.reference, call.reason);
  const { result } = call;
  if (result.code !== codeSuccess) {
    // A precreated QR that nobody scanned, a page nobody opened, or a request that never arrived: not a failure.
    if (result.subCode === 'ACQ.TRADE_NOT_EXIST') return processing(order.reference, 'alipay has no trade yet: the payer has not scanned or opened it');
    return processing(order.reference, `alipay answered the query with ${describe(result)}`);
  }
  const body = result.body;
  const tradeNo = field(body, 'trade_no');
  if (field(body, 'out_trade_no') !== order.orderNo || tradeNo === undefined) return processing(order.reference, 'alipay answered the query for another order or without a trade_no');
  const status = field(body, 'trade_status');
  if (!isKnownTradeStatus(status)) return processing(tradeNo, `unknown alipay trade_status ${JSON.stringify(status)}`);
  const meaning = tradeStatusMeanings[status];
  switch (meaning) {
    case 'waiting':
      return { status: 'requires_action', reference: tradeNo, action: resume() };
    case 'paid':
      return paid(tradeNo, field(body, 'total_amount'));
    case 'closed':
      // Closed after a payment means fully refunded: the payment itself succeeded.
      return field(body, 'send_pay_date') === undefined ? { status: 'canceled', reference: tradeNo } : paid(tradeNo, field(body, 'total_amount'));
    default:
      return assertNever(meaning, 'unmapped alipay trade status');
  }
}

/** A success echoes what Alipay says was paid; the flow compares it with what was asked. */
export function paid(tradeNo: string, totalAmount: string | undefined): ChannelOutcome {
  const amount = parseYuan(totalAmount);
  if (amount === undefined) return processing(tradeNo, 'alipay reported a payment without a readable total_amount');
  return { status: 'succeeded', reference: tradeNo, amount, currency: alipayCurrency };
}

function operationUnknown(reason: string): OperationOutcome {
  return { status: 'processing', reason };
}

/** The answer to alipay.trade.close. */
export function outcomeFromClose(call: AlipayCall, orderNo: string): OperationOutcome {
  if (call.kind === 'unknown') return operationUnknown(call.reason);
  const { result } = call;
  if (result.code === codeSuccess) return { status: 'succeeded', reference: field(result.body, 'trade_no') ?? orderNo };
  // Nothing to close: a QR never scanned or a page never opened cannot be paid any more either.
  if (result.subCode === 'ACQ.TRADE_NOT_EXIST') return { status: 'succeeded', reference: orderNo };
  if (result.subCode === 'ACQ.TRADE_STATUS_ERROR') return { status: 'failed', message: 'Alipay cannot close this order: it has been paid.' };
  if (isFinalRefusal(result)) return { status: 'failed', message: `Alipay refused to close the order (${describe(result)}).` };
  return operationUnknown(`alipay answered close with ${describe(result)}`);
}

const refundRefusals: Readonly<Record<string, string>> = {
  'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL': 'The refund is larger than what remains refundable at Alipay.',
  'ACQ.TRADE_STATUS_ERROR': 'Alipay cannot refund this order in its current state.',
  'ACQ.TRADE_NOT_EXIST': 'Alipay has no paid order with this number.',
  'ACQ.TRADE_HAS_FINISHED': 'The order is finished at Alipay and can no longer be refunded.',
  'ACQ.SELLER_BALANCE_NOT_ENOUGH': 'The Alipay seller balance is too low for this refund.',
  'ACQ.REFUND_FEE_ERROR': 'Alipay rejected the refund amount.',
  'ACQ.INVALID_PARAMETER': 'Alipay rejected the refund as invalid.',
};

/**
 * The answer to alipay.trade.refund. `fund_change=N` is Alipay's answer to a repeated out_request_no,
 * or to a refund that moved no money; only the refund query says which, so it is not a success yet.
 */
export function outcomeFromRefund(call: AlipayCall, request: RefundRequest): OperationOutcome | 'confirm_by_query' {
  if (call.kind === 'unknown') return operationUnknown(call.reason);
  const { result } = call;
  if (result.code === codeSuccess) {
    const tradeNo = field(result.body, 'trade_no');
    if (field(result.body, 'out_trade_no') !== request.orderNo || tradeNo === undefined) return operationUnknown('alipay answered the refund for another order');
    return field(result.body, 'fund_change') === 'Y' ? { status: 'succeeded', reference: tradeNo } : 'confirm_by_query';
  }
  if (isFinalRefusal(result)) {
    const message = (result.subCode === undefined ? undefined : refundRefusals[result.subCode]) ?? `Alipay refused the refund (${describe(result)}).`;
    return { status: 'failed', message };
  }
  return operationUnknown(`alipay answered the refund with ${describe(result)}`);
}

/**
 * The answer to alipay.trade.fastpay.refund.query. An unknown out_request_no answers 10000 with no
 * data: that is "no such refund (yet)", not a success, and not safe to call a failure either, since
 * a refund sent moments ago may still land. Resending the refund with the same out_request_no is safe.
 */
export function outcomeFromRefundQuery(call: AlipayCall, request: RefundRequest): OperationOutcome {
  if (call.kind === 'unknown') return operationUnknown(call.reason);
  const { result } = call;
  if (result.code !== codeSuccess) return operationUnknown(`alipay answered the refund query with ${describe(result)}`);
  const body = result.body;
  if (field(body, 'out_request_no') === undefined && field(body, 'refund_amount') === undefined) {
    return operationUnknown('alipay has no refund with this out_request_no; resending it with the same out_request_no is safe');
  }
  if (field(body, 'out_request_no') !== request.refundNo || field(body, 'out_trade_no') !== request.orderNo) return operationUnknown('alipay answered the refund query for another refund');
  const status = field(body, 'refund_status');
  if (status !== 'REFUND_SUCCESS') return operationUnknown(`alipay refund_status ${JSON.stringify(status ?? null)}`);
  const amount = parseYuan(field(body, 'refund_amount'));
  if (amount !== request.refundAmount) return operationUnknown('integrity_mismatch');
  return { status: 'succeeded', reference: field(body, 'trade_no') ?? request.orderNo };
}
