/**
 * Pure translation between Fenpay's neutral requests and ACP 5.1.0 fields, and from ACP answers to
 * ChannelOutcomes. No I/O, no clock: the caller passes the moment.
 *
 * The reference. ACP finds an order by `orderId` + `txnTime` (the moment we sent it), and refunds and
 * cancels name the paid order by UnionPay's `queryId`. Fenpay gives the adapter back only the
 * reference it last returned, so the reference carries all of it:
 *
 *     <mode>.<txnTime>            before UnionPay has a queryId   e.g. test.20310615200000
 *     <mode>.<txnTime>.<queryId>  once it has one                 e.g. test.20310615200000.652031061520000012345
 *
 * The mode (`test` / `live`) is there because OrderRef does not say which credentials made the order.
 */
import type { AuthorizeRequest, ChannelOutcome, OperationOutcome } from '../channel.ts';
import { classifyAcpCode, failureForCode } from './unionpay-status.ts';
import { beijingTimestamp, formatFen, parseFen, txnTimePattern, type AcpFields } from './unionpay-wire.ts';

export type UnionPayMode = 'test' | 'live';

export interface UnionPayReference {
  readonly mode: UnionPayMode;
  readonly txnTime: string;
  readonly queryId: string | undefined;
}

export function formatReference(reference: UnionPayReference): string {
  return [reference.mode, reference.txnTime, ...(reference.queryId === undefined ? [] : [reference.queryId])].join('.');
}

export function parseReference(value: string | undefined): UnionPayReference | undefined {
  if (value === undefined) return undefined;
  const [mode, txnTime, queryId, extra] = value.split('.');
  if ((mode !== 'test' && mode !== 'live') || txnTime === undefined || !txnTimePattern.test(txnTime) || extra !== undefined) return undefined;
  if (queryId !== undefined && !/^[0-9A-Za-z]{1,64}$/.test(queryId)) return undefined;
  return { mode, txnTime, queryId };
}

/** ACP's fixed header fields for version 5.1.0 with RSA signatures. */
const common = { version: '5.1.0', encoding: 'UTF-8', signMethod: '01', accessType: '0' } as const;
/** B2C gateway payment (网关支付). */
export const gatewayBizType = '000201';
export const cnyCurrencyCode = '156';

export function channelTypeFor(flow: AuthorizeRequest['flow']): '07' | '08' {
  // 07 = PC / pad browser, 08 = mobile browser (WAP). Everything that is not a phone page gets the PC cashier.
  return flow === 'wap' ? '08' : '07';
}

export interface FrontConsumeInput {
  readonly request: AuthorizeRequest;
  readonly txnTime: string;
  readonly backUrl: string;
}

/** 消费 (front): txnType 01, txnSubType 01, bizType 000201, posted by the payer's browser. */
export function frontConsumeFields({ request, txnTime, backUrl }: FrontConsumeInput): Record<string, string> {
  const fields: Record<string, string> = {
    ...common,
    txnType: '01',
    txnSubType: '01',
    bizType: gatewayBizType,
    channelType: channelTypeFor(request.flow),
    orderId: request.orderNo,
    txnTime,
    txnAmt: formatFen(request.amount),
    currencyCode: cnyCurrencyCode,
    backUrl,
  };
  if (request.returnUrl !== undefined) fields['frontUrl'] = request.returnUrl;
  if (request.expiresAt !== undefined) fields['payTimeout'] = beijingTimestamp(request.expiresAt);
  const subject = request.subject ?? request.description;
  // orderDesc is optional and shown on the cashier; ACP forbids & and = oddities in it, so keep it plain.
  if (subject !== undefined && subject !== '') fields['orderDesc'] = subject.replace(/[&=<>{}]/g, ' ').slice(0, 32);
  return fields;
}

/** 交易状态查询: txnType 00 by orderId + txnTime. */
export function queryFields(orderId: string, txnTime: string): Record<string, string> {
  return { ...common, txnType: '00', txnSubType: '00', bizType: gatewayBizType, orderId, txnTime };
}

export interface BackTransInput {
  readonly orderId: string;
  readonly txnTime: string;
  readonly origQryId: string;
  readonly amount: bigint;
  readonly backUrl: string;
  /** Echoed in answers and notifications: the paid order's orderNo, so a refund notify can name it. */
  readonly paymentOrderNo: string;
}

function backTransFields(txnType: '04' | '31', input: BackTransInput): Record<string, string> {
  return {
    ...common,
    txnType,
    txnSubType: '00',
    bizType: gatewayBizType,
    channelType: '07',
    orderId: input.orderId,
    txnTime: input.txnTime,
    txnAmt: formatFen(input.amount),
    currencyCode: cnyCurrencyCode,
    origQryId: input.origQryId,
    backUrl: input.backUrl,
    reqReserved: input.paymentOrderNo,
  };
}

/** 退货: txnType 04, by origQryId, partial allowed. */
export const refundFields = (input: BackTransInput) => backTransFields('04', input);
/** 消费撤销: txnType 31, same day only, full amount. */
export const cancelFields = (input: BackTransInput) => backTransFields('31', input);

/** A deterministic orderId for the cancel of an order (8–40 letters and digits). */
export function cancelOrderIdFor(orderNo: string): string {
  return orderNo.length <= 38 ? `${orderNo}CX` : `CX${orderNo.slice(-38)}`;
}

export interface PaymentContext {
  readonly mode: UnionPayMode;
  readonly txnTime: string;
  /** A queryId we already know: an answer that lacks one must not make the reference forget it. */
  readonly queryId?: string | undefined;
}

/** What a verified answer to the query of a consume says about the payment. */
export function paymentOutcomeFromQuery(answer: AcpFields, context: PaymentContext): ChannelOutcome {
  const pending = formatReference({ mode: context.mode, txnTime: context.txnTime, queryId: context.queryId });
  const respCode = answer['respCode'];
  // 34 查无此交易: for a front (browser) order it means the payer has not got that far yet, not "failed".
  if (respCode === '34') return { status: 'processing', reference: pending, reason: 'unionpay_order_not_found_yet' };
  if (respCode !== '00') return { status: 'processing', reference: pending, reason: `unionpay_query_resp_code_${respCode ?? 'missing'}` };
  return paymentOutcomeFromResult(answer['origRespCode'], answer['origRespMsg'], answer, context);
}

/** Shared by query answers (origRespCode) and consume notifications (respCode). */
export function paymentOutcomeFromResult(code: string | undefined, message: string | undefined, fields: AcpFields, context: PaymentContext): ChannelOutcome {
  const queryId = fields['queryId'] !== undefined && fields['queryId'] !== '' ? fields['queryId'] : context.queryId;
  const reference = formatReference({ mode: context.mode, txnTime: context.txnTime, queryId });
  switch (classifyAcpCode(code)) {
    case 'success': {
      const amount = parseFen(fields['txnAmt']);
      if (queryId === undefined || amount === undefined) return { status: 'processing', reference, reason: 'unionpay_success_without_queryId_or_amount' };
      // The amount is echoed as sent; the flow compares it with what was asked (integrity check).
      const currency = fields['currencyCode'] === undefined || fields['currencyCode'] === cnyCurrencyCode ? 'cny' : `iso${fields['currencyCode']}`;
      return { status: 'succeeded', reference, amount, currency };
    }
    case 'refused':
      return { status: 'failed', reference, failure: failureForCode(code ?? '', message) };
    case 'in_progress':
    case 'not_found':
    case undefined:
      return { status: 'processing', reference, reason: `unionpay_result_${code ?? 'missing'}` };
  }
}

/** The answer to a refund or cancel request: 00 is "accepted", its result comes later. */
export function operationFromBackTrans(answer: AcpFields, kind: 'refund' | 'cancel'): OperationOutcome {
  const code = answer['respCode'];
  switch (classifyAcpCode(code)) {
    case 'success': {
      const queryId = answer['queryId'];
      if (kind === 'cancel' && queryId !== undefined && queryId !== '') return { status: 'succeeded', reference: queryId };
      return { status: 'processing', reason: `unionpay_${kind}_accepted` };
    }
    case 'refused':
      return { status: 'failed', message: `UnionPay ${code ?? ''}: ${answer['respMsg'] ?? 'refused'}` };
    case 'in_progress':
    case 'not_found':
    case undefined:
      return { status: 'processing', reason: `unionpay_${kind}_resp_code_${code ?? 'missing'}` };
  }
}

/** What a verified query of a refund's own orderId says about the refund. */
export function refundOutcomeFromQuery(answer: AcpFields): OperationOutcome {
  const respCode = answer['respCode'];
  if (respCode !== '00') return { status: 'processing', reason: `unionpay_query_resp_code_${respCode ?? 'missing'}` };
  return refundOutcomeFromResult(answer['origRespCode'], answer['origRespMsg'], answer);
}

export function refundOutcomeFromResult(code: string | undefined, message: string | undefined, fields: AcpFields): OperationOutcome {
  switch (classifyAcpCode(code)) {
    case 'success': {
      const queryId = fields['queryId'];
      return queryId !== undefined && queryId !== '' ? { status: 'succeeded', reference: queryId } : { status: 'processing', reason: 'unionpay_refund_success_without_queryId' };
    }
    case 'refused':
      return { status: 'failed', message: `UnionPay ${code ?? ''}: ${message ?? 'refund refused'}` };
    case 'in_progress':
    case 'not_found':
    case undefined:
      return { status: 'processing', reason: `unionpay_refund_result_${code ?? 'missing'}` };
  }
}
