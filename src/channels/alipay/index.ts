/**
 * The Alipay channel: Alipay OpenAPI (RSA2) through the official alipay-sdk, with every answer's
 * signature verified. The same adapter serves live mode (openapi.alipay.com) and test mode (the
 * emulator in src/sandbox/alipay, reached over HTTP like the real thing). It translates and decides
 * nothing: refusals and "not known yet" come back as outcomes; only bugs (AssertionError) are thrown.
 *
 * Flows: qr → alipay.trade.precreate (the default), page → alipay.trade.page.pay, wap →
 * alipay.trade.wap.pay, app → alipay.trade.app.pay. Alipay captures at once: no manual capture.
 */
import QRCode from 'qrcode';
import { assert } from '../../kernel/index.ts';
import type { AuthorizeRequest, ChannelAdapter, ChannelFailure, ChannelOutcome, NextAction, OperationOutcome, OrderRef, RefundRequest } from '../channel.ts';
import { alipayCurrency, toYuan } from './alipay-amount.ts';
import { createAlipayClient, type AlipayClient } from './alipay-client.ts';
import { checkCredentials, type AlipayCredentials } from './alipay-credentials.ts';
import { parseAlipayNotification } from './alipay-notification.ts';
import {
  orderBiz,
  orderRefBiz,
  outcomeFromClose,
  outcomeFromPrecreate,
  outcomeFromQuery,
  outcomeFromRefund,
  outcomeFromRefundQuery,
  productCodes,
  refundBiz,
  refundQueryBiz,
} from './alipay-transform.ts';
import { codeSuccess, field } from './alipay-wire.ts';

export { alipayGateways, type AlipayCredentials } from './alipay-credentials.ts';
export { parseYuan, toYuan } from './alipay-amount.ts';

export interface AlipayChannelOptions {
  readonly credentials: AlipayCredentials;
  /** Per call (alipay-sdk's `timeout`); past it the outcome is processing. Default 10 s. */
  readonly timeoutMs?: number;
  /** Render the QR code as a PNG data URL in `imageUrl` (default true). */
  readonly qrImages?: boolean;
}

export type AlipayBillUrlOutcome =
  | { readonly status: 'ready'; readonly url: string }
  /** Alipay said no (no bill for that day yet, wrong date); `code` is its sub_code. */
  | { readonly status: 'unavailable'; readonly code: string; readonly message: string }
  | { readonly status: 'processing'; readonly reason: string };

export interface AlipayChannel extends ChannelAdapter {
  /** The trade bill for a Beijing calendar day ("yyyy-MM-dd"): a URL valid for 30 seconds. */
  billDownloadUrl(billDate: string): Promise<AlipayBillUrlOutcome>;
}

function failed(declineCode: string, message: string, code: ChannelFailure['code'] = 'processing_error'): ChannelOutcome {
  return { status: 'failed', reference: undefined, failure: { code, declineCode, message } };
}

async function qrImage(data: string): Promise<string | undefined> {
  try {
    return await QRCode.toDataURL(data, { errorCorrectionLevel: 'M', margin: 1, width: 256 });
  } catch {
    // The QR's content is what matters; a picture of it is a convenience.
    return undefined;
  }
}

export function createAlipayChannel(options: AlipayChannelOptions): AlipayChannel {
  const { credentials } = options;
  checkCredentials(credentials);
  const client: AlipayClient = createAlipayClient(credentials, options.timeoutMs ?? 10_000);
  const qrImages = options.qrImages ?? true;

  function notifyUrlOf(request: { readonly notifyUrl?: string | undefined }): string | undefined {
    return request.notifyUrl ?? credentials.notifyUrl;
  }

  /** For a payer still at the cashier: a desktop cashier URL for the same order (Alipay resumes it). */
  function resumeAction(order: OrderRef): NextAction {
    const biz = { out_trade_no: order.orderNo, total_amount: toYuan(order.amount), subject: order.orderNo, product_code: productCodes.page };
    return { type: 'redirect_to_url', url: client.pageUrl('alipay.trade.page.pay', biz, { notifyUrl: credentials.notifyUrl, returnUrl: undefined }) };
  }

  async function queryRefund(request: RefundRequest): Promise<OperationOutcome> {
    return outcomeFromRefundQuery(await client.call('alipay.trade.fastpay.refund.query', refundQueryBiz(request)), request);
  }

  async function authorize(request: AuthorizeRequest): Promise<ChannelOutcome> {
    assert(request.paymentMethod.type === 'alipay', `the alipay channel cannot authorize a ${request.paymentMethod.type} payment method`);
    assert(request.amount > 0n, 'an authorization amount is positive');
    if (request.currency !== alipayCurrency) return failed('alipay_currency_not_supported', 'Alipay accepts payments in CNY only.');
    if (request.capture === 'manual') return failed('alipay_manual_capture_not_supported', 'Alipay captures at once; manual capture is not available.');
    const flow = request.flow ?? 'qr';
    const notifyUrl = notifyUrlOf(request);
    switch (flow) {
      case 'qr': {
        const call = await client.call('alipay.trade.precreate', orderBiz(request, 'qr'), { notifyUrl });
        const qrCode = call.kind === 'answer' && call.result.code === codeSuccess ? field(call.result.body, 'qr_code') : undefined;
        const imageUrl = qrCode !== undefined && qrImages ? await qrImage(qrCode) : undefined;
        return outcomeFromPrecreate(call, request.orderNo, imageUrl);
      }
      case 'page':
      case 'wap': {
        const method = flow === 'page' ? 'alipay.trade.page.pay' : 'alipay.trade.wap.pay';
        const url = client.pageUrl(method, orderBiz(request, flow), { notifyUrl, returnUrl: request.returnUrl });
        return { status: 'requires_action', reference: request.orderNo, action: { type: 'redirect_to_url', url } };
      }
      case 'app': {
        const orderString = client.orderString('alipay.trade.app.pay', orderBiz(request, 'app'), { notifyUrl });
        return { status: 'requires_action', reference: request.orderNo, action: { type: 'sdk_params', params: { orderString } } };
      }
      case 'jsapi':
        return failed('alipay_flow_not_supported', 'The Alipay channel does not offer the JSAPI flow (it needs the buyer id, alipay.trade.create).');
      default:
        return failed('alipay_flow_not_supported', `The Alipay channel does not offer the ${String(flow)} flow.`);
    }
  }

  return {
    id: 'alipay',
    displayName: 'Alipay',
    paymentMethodTypes: ['alipay'],
    modes: ['test', 'live'],
    capabilities: { manualCapture: false, partialCapture: false, refund: true, partialRefund: true, cancel: true, query: true },

    authorize,

    async query(order) {
      return outcomeFromQuery(await client.call('alipay.trade.query', orderRefBiz(order)), order, () => resumeAction(order));
    },

    async capture() {
      return { status: 'failed', message: 'Alipay captures payments at once; there is nothing to capture.' };
    },

    async cancel(order) {
      return outcomeFromClose(await client.call('alipay.trade.close', orderRefBiz(order)), order.orderNo);
    },

    async refund(request) {
      assert(request.refundAmount > 0n, 'a refund amount is positive');
      if (request.currency !== alipayCurrency) return { status: 'failed', message: 'Alipay refunds in CNY only.' };
      const outcome = outcomeFromRefund(await client.call('alipay.trade.refund', refundBiz(request)), request);
      return outcome === 'confirm_by_query' ? await queryRefund(request) : outcome;
    },

    queryRefund,

    async parseNotification(request) {
      return parseAlipayNotification({ request, appId: credentials.appId, verify: (fields) => client.verifyNotification(fields) });
    },

    async billDownloadUrl(billDate) {
      assert(/^\d{4}-\d{2}-\d{2}$/.test(billDate), 'a bill date is yyyy-MM-dd');
      const call = await client.call('alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: billDate });
      if (call.kind === 'unknown') return { status: 'processing', reason: call.reason };
      const { result } = call;
      const url = field(result.body, 'bill_download_url');
      if (result.code === codeSuccess && url !== undefined) return { status: 'ready', url };
      if (result.code === '40004' || result.code === '40002' || result.code === '40001') {
        return { status: 'unavailable', code: result.subCode ?? result.code, message: result.subMsg ?? result.msg ?? 'Alipay has no bill for this date.' };
      }
      return { status: 'processing', reason: `alipay answered ${result.code}` };
    },
  };
}
