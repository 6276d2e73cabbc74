/**
 * The WeChat Pay API v3 channel (direct merchant, 直连商户). One adapter for both modes: live talks to
 * api.mch.weixin.qq.com, test mode to the emulator in src/sandbox/wechat-pay, chosen by the
 * credentials' baseUrl; the two meet over HTTP only. It translates and decides nothing: every answer it
 * cannot verify, and every "try again" from WeChat, is `processing`.
 *
 *   flow qr (default) / page → Native  → display_qr_code (code_url, and a PNG data URL of it)
 *   flow jsapi               → JSAPI   → sdk_params for WeixinJSBridge / wx.requestPayment
 *   flow wap                 → H5      → redirect_to_url (h5_url [+ redirect_url])
 *   flow app                 → App     → sdk_params for the App SDK
 */
import QRCode from 'qrcode';
import { AssertionError } from '../../kernel/index.ts';
import type { ChannelAdapter, ChannelOutcome, InboundHttp, OperationOutcome, RefundRequest, VerifiedNotification } from '../channel.ts';
import { type TradeBill, parseTradeBill as parseBillCsv } from './wechat-pay-bill.ts';
import { createWechatPayClient, sha1Hex, type WechatPayAnswer, type WechatPayClient } from './wechat-pay-client.ts';
import { parseCredentials, type WechatPayCredentials } from './wechat-pay-credentials.ts';
import { newNonce } from './wechat-pay-crypto.ts';
import { parseWechatNotification } from './wechat-pay-notification.ts';
import {
  outcomeFromError,
  outcomeFromPrepay,
  outcomeFromRefund,
  outcomeFromTransaction,
  operationFromError,
  toPrepayRequest,
  wechatCurrency,
} from './wechat-pay-transform.ts';
import { fenToWire, parseError, parsePrepay, parseRefund, parseTradeBill, parseTransaction } from './wechat-pay-wire.ts';

export { liveBaseUrl, type WechatPayCredentials } from './wechat-pay-credentials.ts';
export { parseTradeBill as parseTradeBillCsv, yuanToFen, type TradeBill, type TradeBillRow, type TradeBillSummary } from './wechat-pay-bill.ts';

export interface WechatPayChannelOptions {
  readonly credentials: WechatPayCredentials;
  /** Used when an AuthorizeRequest carries no notifyUrl. WeChat requires one on every order. */
  readonly notifyUrl?: string | undefined;
  /** Per call; a call that takes longer is unknown (processing). Default 10 s. */
  readonly timeoutMs?: number | undefined;
  /** Render the Native code_url as a PNG data URL too (imageUrl). Default true. */
  readonly qrImage?: boolean | undefined;
  readonly now?: (() => Date) | undefined;
  readonly fetch?: typeof fetch | undefined;
  /** Minimum time between platform-certificate downloads triggered by an unknown serial. Default 60 s. */
  readonly certificateRefreshMinIntervalMs?: number | undefined;
}

export type BillType = 'ALL' | 'SUCCESS' | 'REFUND';

export type TradeBillResult =
  | { readonly status: 'succeeded'; readonly csv: string; readonly bill: TradeBill }
  /** No bill for that day (NO_STATEMENT_EXIST) or another explicit refusal. */
  | { readonly status: 'failed'; readonly message: string }
  | { readonly status: 'processing'; readonly reason: string };

export interface WechatPayChannel extends ChannelAdapter {
  readonly id: 'wechat_pay';
  /** Downloads the trade bill (交易账单) of one Beijing calendar day, `YYYY-MM-DD`, and checks its SHA1. */
  tradeBill(billDate: string, billType?: BillType): Promise<TradeBillResult>;
  queryRefund(request: RefundRequest): Promise<OperationOutcome>;
  parseNotification(request: InboundHttp): Promise<VerifiedNotification>;
}

function unknownOutcome(error: unknown, reference: string | undefined): ChannelOutcome {
  if (error instanceof AssertionError) throw error;
  return { status: 'processing', reference, reason: `WeChat Pay call failed (${error instanceof Error ? error.name : typeof error})` };
}

function isAnswer(answer: WechatPayAnswer): answer is Extract<WechatPayAnswer, { kind: 'answer' }> {
  return answer.kind === 'answer';
}

export function createWechatPayChannel(options: WechatPayChannelOptions): WechatPayChannel {
  const keys = parseCredentials(options.credentials);
  const now = options.now ?? (() => new Date());
  const client: WechatPayClient = createWechatPayClient({
    keys,
    now,
    timeoutMs: options.timeoutMs ?? 10_000,
    fetch: options.fetch ?? globalThis.fetch,
    certificateRefreshMinIntervalMs: options.certificateRefreshMinIntervalMs ?? 60_000,
  });
  const qrImage = options.qrImage ?? true;
  const merchant = { appId: keys.appId, mchId: keys.mchId };
  const mchQuery = `mchid=${encodeURIComponent(keys.mchId)}`;
  const outTradeNoPath = (orderNo: string): string => `/v3/pay/transactions/out-trade-no/${encodeURIComponent(orderNo)}`;

  async function withQrImage(outcome: ChannelOutcome): Promise<ChannelOutcome> {
    if (!qrImage || outcome.status !== 'requires_action' || outcome.action.type !== 'display_qr_code') return outcome;
    const imageUrl = await QRCode.toDataURL(outcome.action.data, { errorCorrectionLevel: 'M', margin: 2, width: 256 });
    return { ...outcome, action: { ...outcome.action, imageUrl } };
  }

  return {
    id: 'wechat_pay',
    displayName: 'WeChat Pay',
    paymentMethodTypes: ['wechat_pay'],
    modes: ['test', 'live'],
    capabilities: { manualCapture: false, partialCapture: false, refund: true, partialRefund: true, cancel: true, query: true },

    async authorize(request) {
      // WeChat captures when the payer pays: a hold asked for must be refused, not silently captured.
      if (request.capture === 'manual') {
        return { status: 'failed', reference: undefined, failure: { code: 'processing_error', declineCode: 'wechat_pay_manual_capture_not_supported', message: 'WeChat Pay captures at once; manual capture is not available.' } };
      }
      const built = toPrepayRequest(request, merchant, options.notifyUrl);
      // Refused before anything was sent: no order exists at WeChat, so this failure is final.
      if (!built.ok) return { status: 'failed', reference: undefined, failure: { code: 'processing_error', declineCode: undefined, message: built.message } };
      const { tradeType, body } = built.request;
      try {
        const answer = await client.call('POST', `/v3/pay/transactions/${tradeType}`, body);
        if (!isAnswer(answer)) return { status: 'processing', reference: request.orderNo, reason: answer.reason };
        if (answer.status !== 200) return outcomeFromError(answer.status, parseError(answer.body), request.orderNo);
        const prepay = parsePrepay(answer.body);
        if (prepay === undefined) return { status: 'processing', reference: request.orderNo, reason: 'WeChat answered 200 without a body' };
        const signing = { appId: keys.appId, mchId: keys.mchId, privateKey: keys.privateKey, timestamp: Math.floor(now().getTime() / 1000), nonce: newNonce() };
        return await withQrImage(outcomeFromPrepay(tradeType, prepay, { orderNo: request.orderNo, returnUrl: request.returnUrl, signing }));
      } catch (error) {
        return unknownOutcome(error, request.orderNo);
      }
    },

    async query(order) {
      try {
        const answer = await client.call('GET', `${outTradeNoPath(order.orderNo)}?${mchQuery}`);
        if (!isAnswer(answer)) return { status: 'processing', reference: order.reference, reason: answer.reason };
        if (answer.status === 404) {
          // Not (yet) known at WeChat: the order may be in flight. Expiry closes it if it never appears.
          return { status: 'processing', reference: order.reference, reason: 'WeChat has no such order (ORDER_NOT_EXIST)' };
        }
        if (answer.status !== 200) return outcomeFromError(answer.status, parseError(answer.body), order.reference);
        const transaction = parseTransaction(answer.body);
        if (transaction === undefined) return { status: 'processing', reference: order.reference, reason: 'WeChat answered without out_trade_no or trade_state' };
        return outcomeFromTransaction(transaction, { orderNo: order.orderNo, mchId: keys.mchId });
      } catch (error) {
        return unknownOutcome(error, order.reference);
      }
    },

    async capture() {
      return { status: 'failed', message: 'WeChat Pay captures automatically; there is no separate capture (operation_not_supported)' };
    },

    async cancel(order): Promise<OperationOutcome> {
      const answer = await client.call('POST', `${outTradeNoPath(order.orderNo)}/close`, { mchid: keys.mchId });
      if (!isAnswer(answer)) return { status: 'processing', reason: answer.reason };
      if (answer.status === 204 || answer.status === 200) return { status: 'succeeded', reference: order.orderNo };
      if (answer.status === 404) return { status: 'processing', reason: 'WeChat has no such order to close (ORDER_NOT_EXIST)' };
      const error = parseError(answer.body);
      // A paid order cannot be closed: that is a clear no, and a query will show the payment.
      if (error?.code === 'ORDERPAID') return { status: 'failed', message: 'WeChat Pay cannot close a paid order (ORDERPAID)' };
      return operationFromError(answer.status, error);
    },

    async refund(request): Promise<OperationOutcome> {
      const currency = wechatCurrency(request.currency);
      if (currency === undefined) return { status: 'failed', message: `WeChat Pay refunds CNY only, not ${request.currency.toUpperCase()}` };
      if (request.refundAmount <= 0n || request.refundAmount > request.amount) return { status: 'failed', message: 'the refund amount must be positive and at most the order amount' };
      const body = {
        out_trade_no: request.orderNo,
        out_refund_no: request.refundNo,
        ...(options.notifyUrl === undefined ? {} : { notify_url: options.notifyUrl }),
        amount: { refund: fenToWire(request.refundAmount), total: fenToWire(request.amount), currency },
      };
      const answer = await client.call('POST', '/v3/refund/domestic/refunds', body);
      if (!isAnswer(answer)) return { status: 'processing', reason: answer.reason };
      if (answer.status !== 200) return operationFromError(answer.status, parseError(answer.body));
      const refund = parseRefund(answer.body);
      if (refund === undefined) return { status: 'processing', reason: 'WeChat answered without out_refund_no or status' };
      return outcomeFromRefund(refund, { refundNo: request.refundNo, refundAmount: request.refundAmount, mchId: keys.mchId });
    },

    async queryRefund(request): Promise<OperationOutcome> {
      const answer = await client.call('GET', `/v3/refund/domestic/refunds/${encodeURIComponent(request.refundNo)}`);
      if (!isAnswer(answer)) return { status: 'processing', reason: answer.reason };
      if (answer.status === 404) return { status: 'processing', reason: 'WeChat has no such refund (RESOURCE_NOT_EXISTS)' };
      if (answer.status !== 200) return operationFromError(answer.status, parseError(answer.body));
      const refund = parseRefund(answer.body);
      if (refund === undefined) return { status: 'processing', reason: 'WeChat answered without out_refund_no or status' };
      return outcomeFromRefund(refund, { refundNo: request.refundNo, refundAmount: request.refundAmount, mchId: keys.mchId });
    },

    async parseNotification(request) {
      return await parseWechatNotification(request, { client, mchId: keys.mchId });
    },

    async tradeBill(billDate, billType = 'ALL') {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(billDate)) return { status: 'failed', message: 'bill_date is YYYY-MM-DD' };
      const answer = await client.call('GET', `/v3/bill/tradebill?bill_date=${billDate}&bill_type=${billType}`);
      if (!isAnswer(answer)) return { status: 'processing', reason: answer.reason };
      if (answer.status !== 200) {
        const error = parseError(answer.body);
        if (answer.status >= 500 || error === undefined) return { status: 'processing', reason: `WeChat answered HTTP ${answer.status}` };
        return { status: 'failed', message: `${error.code} ${error.message}`.trim() };
      }
      const bill = parseTradeBill(answer.body);
      if (bill?.hashType !== 'SHA1') return { status: 'processing', reason: 'WeChat answered without a SHA1 bill hash and download_url' };
      // The file itself is not signed (wechatpay-go FAQ): its SHA1 from the signed answer vouches for it.
      const file = await client.download(bill.downloadUrl);
      if (file.kind !== 'file') return { status: 'processing', reason: file.reason };
      if (sha1Hex(file.bytes) !== bill.hashValue.toLowerCase()) return { status: 'processing', reason: 'the bill file does not match its SHA1' };
      const csv = file.bytes.toString('utf8');
      const parsed = parseBillCsv(csv);
      if (parsed === undefined) return { status: 'processing', reason: 'the bill file is not a WeChat trade bill' };
      return { status: 'succeeded', csv, bill: parsed };
    },
  };
}
