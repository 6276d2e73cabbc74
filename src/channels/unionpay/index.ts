/**
 * UnionPay 全渠道 online gateway (ACP 5.1.0, signMethod 01) for the `unionpay` redirect payment
 * method. The same adapter talks to gateway.95516.com in live mode and to the emulator
 * (src/sandbox/unionpay) in test mode; only the credentials and URLs differ.
 *
 *   authorize    a signed front consume form (txnType 01) the payer's browser POSTs: requires_action
 *                with a `post_form` next action. No server call is made, so nothing can be unknown.
 *   query        queryTrans (txnType 00) by orderId + txnTime; origRespCode decides; 34 is "not yet".
 *   cancel       query first; unpaid → nothing to do (succeeded); paid → same-day 消费撤销 (txnType 31).
 *   refund       退货 (txnType 04) by origQryId, partial allowed; 00 is "accepted" → processing.
 *   queryRefund  queryTrans on the refund's own orderId (= refundNo).
 *   notification backUrl form POST, verified (chain, CN, signature), acknowledged with 200 `ok`.
 *
 * Where txnTime lives: see the reference format in unionpay-transform.ts. A refund's txnTime is its
 * RefundRequest's `requestedAt` (stored with the refund), so a retry or a query — after a restart too —
 * names the same transaction. Without `requestedAt` the adapter falls back to the txnTime it remembers
 * sending in this process.
 */
import { assert } from '../../kernel/index.ts';
import type { ChannelAdapter, ChannelOutcome, OperationOutcome, OrderRef, RefundRequest } from '../channel.ts';
import { postAcp, signRequest, type AcpAnswer } from './unionpay-client.ts';
import { resolveCredentials, type ResolvedCredentials, type UnionPayCredentials } from './unionpay-credentials.ts';
import { parseUnionPayNotification } from './unionpay-notification.ts';
import {
  cancelFields,
  cancelOrderIdFor,
  formatReference,
  frontConsumeFields,
  operationFromBackTrans,
  parseReference,
  paymentOutcomeFromQuery,
  queryFields,
  refundFields,
  refundOutcomeFromQuery,
  type UnionPayMode,
  type UnionPayReference,
} from './unionpay-transform.ts';
import { beijingTimestamp, orderIdPattern, parseFen, type AcpFields } from './unionpay-wire.ts';

export { unionPayLiveBaseUrl, type UnionPayCredentials } from './unionpay-credentials.ts';
export { formatReference, parseReference, type UnionPayReference } from './unionpay-transform.ts';
export { signingString, signingDigestHex, signFields, verifyFieldsSignature, checkSigningCertificate, verifyMessage } from './unionpay-sign.ts';

export interface UnionPayChannelOptions {
  /** Credentials for test mode (the emulator's, from `emulator.credentials()`). */
  readonly test?: UnionPayCredentials;
  /** Credentials for live mode (gateway.95516.com; baseUrl `unionPayLiveBaseUrl`). */
  readonly live?: UnionPayCredentials;
  /**
   * The backUrl for refunds and cancels (RefundRequest and OrderRef carry none), and for a payment
   * whose AuthorizeRequest has no notifyUrl.
   */
  readonly notifyUrl?: string;
  /** Per server call; ACP's own notify timeout is 10 s, its demos wait 30–60 s. */
  readonly timeoutMs?: number;
  readonly now?: () => Date;
}

/** How many refund txnTimes the adapter remembers for queryRefund. */
const refundMemoMax = 10_000;

export function createUnionPayChannel(options: UnionPayChannelOptions): ChannelAdapter {
  const credentials = new Map<UnionPayMode, ResolvedCredentials>();
  if (options.test !== undefined) credentials.set('test', resolveCredentials(options.test, 'test'));
  if (options.live !== undefined) credentials.set('live', resolveCredentials(options.live, 'live'));
  assert(credentials.size > 0, 'the UnionPay channel needs test or live credentials');
  const now = options.now ?? (() => new Date());
  const clientOptions = { timeoutMs: options.timeoutMs ?? 20_000, now };
  const refundTimes = new Map<string, { readonly mode: UnionPayMode; readonly txnTime: string }>();

  function rememberRefund(refundNo: string, value: { mode: UnionPayMode; txnTime: string }) {
    refundTimes.delete(refundNo);
    refundTimes.set(refundNo, value);
    if (refundTimes.size > refundMemoMax) {
      const oldest = refundTimes.keys().next();
      if (oldest.done !== true) refundTimes.delete(oldest.value);
    }
  }

  /** The txnTime a refund was (or is first) sent under: its stored request time, else the one this process sent. */
  function refundTxnTime(request: RefundRequest): string | undefined {
    return request.requestedAt !== undefined ? beijingTimestamp(request.requestedAt) : refundTimes.get(request.refundNo)?.txnTime;
  }

  function backUrlFor(notifyUrl: string | undefined): string {
    const url = notifyUrl ?? options.notifyUrl;
    assert(url !== undefined, 'UnionPay needs a backUrl: pass notifyUrl on the request or in the channel options');
    return url;
  }

  /** The consume's query answer, verified, or why we do not have one. */
  async function queryConsume(orderNo: string, reference: UnionPayReference): Promise<{ creds: ResolvedCredentials; answer: AcpAnswer } | undefined> {
    const creds = credentials.get(reference.mode);
    if (creds === undefined) return undefined;
    return { creds, answer: await postAcp(creds, creds.singleQueryUrl, queryFields(orderNo, reference.txnTime), clientOptions) };
  }

  async function query(order: OrderRef): Promise<ChannelOutcome> {
    const reference = parseReference(order.reference);
    if (reference === undefined) return { status: 'processing', reference: order.reference, reason: 'unionpay_reference_without_txnTime' };
    const result = await queryConsume(order.orderNo, reference);
    if (result === undefined) return { status: 'processing', reference: order.reference, reason: `unionpay_no_${reference.mode}_credentials` };
    if (result.answer.kind === 'unknown') return { status: 'processing', reference: order.reference, reason: result.answer.reason };
    return paymentOutcomeFromQuery(result.answer.fields, reference);
  }

  /** The paid consume's queryId and amount, from the reference or, failing that, from a query. */
  async function paidConsume(order: OrderRef): Promise<{ reference: UnionPayReference; queryId: string } | OperationOutcome> {
    const reference = parseReference(order.reference);
    if (reference === undefined) return { status: 'processing', reason: 'unionpay_reference_without_txnTime' };
    if (reference.queryId !== undefined) return { reference, queryId: reference.queryId };
    const outcome = await query(order);
    const known = parseReference(outcome.reference);
    if (outcome.status === 'succeeded' && known?.queryId !== undefined) return { reference: known, queryId: known.queryId };
    if (outcome.status === 'processing') return { status: 'processing', reason: outcome.reason };
    return { status: 'failed', message: `the UnionPay order is ${outcome.status}, not paid` };
  }

  return {
    id: 'unionpay',
    displayName: 'UnionPay (ACP gateway)',
    paymentMethodTypes: ['unionpay'],
    modes: [...credentials.keys()],
    capabilities: { manualCapture: false, partialCapture: false, refund: true, partialRefund: true, cancel: true, query: true },

    async authorize(request) {
      assert(request.paymentMethod.type === 'unionpay', `the UnionPay channel cannot pay with a ${request.paymentMethod.type} payment method`);
      const mode: UnionPayMode = request.livemode ? 'live' : 'test';
      const creds = credentials.get(mode);
      assert(creds !== undefined, `the UnionPay channel has no ${mode} credentials`);
      assert(orderIdPattern.test(request.orderNo), 'a UnionPay orderId is 8–40 letters and digits');
      if (request.currency !== 'cny') {
        return { status: 'failed', reference: undefined, failure: { code: 'processing_error', declineCode: undefined, message: 'UnionPay gateway payments are in CNY only.' } };
      }
      // A front consume is captured when the payer pays: a hold asked for must be refused, not silently captured.
      if (request.capture === 'manual') {
        return { status: 'failed', reference: undefined, failure: { code: 'processing_error', declineCode: 'unionpay_manual_capture_not_supported', message: 'UnionPay gateway consumes are captured at once; manual capture is not available.' } };
      }
      const txnTime = beijingTimestamp(now());
      const fields = signRequest(creds, frontConsumeFields({ request, txnTime, backUrl: backUrlFor(request.notifyUrl) }));
      return {
        status: 'requires_action',
        reference: formatReference({ mode, txnTime, queryId: undefined }),
        action: { type: 'post_form', url: creds.frontTransUrl, fields },
      };
    },

    query,

    async capture() {
      return { status: 'failed', message: 'operation_not_supported: UnionPay gateway consumes are captured when paid; there is nothing to capture.' };
    },

    async cancel(order) {
      const reference = parseReference(order.reference);
      if (reference === undefined) return { status: 'processing', reason: 'unionpay_reference_without_txnTime' };
      const result = await queryConsume(order.orderNo, reference);
      if (result === undefined) return { status: 'processing', reason: `unionpay_no_${reference.mode}_credentials` };
      if (result.answer.kind === 'unknown') return { status: 'processing', reason: result.answer.reason };
      const answer: AcpFields = result.answer.fields;
      // ACP has no "close" for a front order: an unpaid one simply lapses at payTimeout. A payment that
      // lands later anyway is caught by query/notification and refunded by Fenpay.
      if (answer['respCode'] === '34') return { status: 'succeeded', reference: `unpaid_nothing_to_cancel.${reference.txnTime}` };
      const outcome = paymentOutcomeFromQuery(answer, reference);
      if (outcome.status === 'failed') return { status: 'succeeded', reference: `failed_nothing_to_cancel.${reference.txnTime}` };
      if (outcome.status !== 'succeeded') return { status: 'processing', reason: outcome.status === 'processing' ? outcome.reason : `unionpay_order_${outcome.status}` };
      const paid = parseReference(outcome.reference);
      const amount = parseFen(answer['txnAmt']);
      if (paid?.queryId === undefined || amount === undefined) return { status: 'processing', reason: 'unionpay_paid_without_queryId' };
      const fields = cancelFields({
        orderId: cancelOrderIdFor(order.orderNo),
        txnTime: beijingTimestamp(now()),
        origQryId: paid.queryId,
        amount,
        backUrl: backUrlFor(undefined),
        paymentOrderNo: order.orderNo,
      });
      const sent = await postAcp(result.creds, result.creds.backTransUrl, fields, clientOptions);
      if (sent.kind === 'unknown') return { status: 'processing', reason: sent.reason };
      // 撤销 is real-time at UnionPay: a 00 answer with the cancel's own queryId is taken as done, so
      // that Fenpay's cancel (which retries until final) does not send a second 31 for a paid order.
      return operationFromBackTrans(sent.fields, 'cancel');
    },

    async refund(request) {
      assert(orderIdPattern.test(request.refundNo), 'a UnionPay refund orderId is 8–40 letters and digits');
      if (request.currency !== 'cny') return { status: 'failed', message: 'UnionPay refunds are in CNY only.' };
      const paid = await paidConsume(request);
      if (!('queryId' in paid)) return paid;
      const creds = credentials.get(paid.reference.mode);
      if (creds === undefined) return { status: 'processing', reason: `unionpay_no_${paid.reference.mode}_credentials` };
      // ACP knows a transaction by orderId + txnTime: a retry of this refund (same refund number) is the
      // same transaction only under the txnTime it was first sent with, which the refund query needs too.
      const txnTime = refundTxnTime(request) ?? beijingTimestamp(now());
      rememberRefund(request.refundNo, { mode: paid.reference.mode, txnTime });
      const fields = refundFields({
        orderId: request.refundNo,
        txnTime,
        origQryId: paid.queryId,
        amount: request.refundAmount,
        backUrl: backUrlFor(undefined),
        paymentOrderNo: request.orderNo,
      });
      const sent = await postAcp(creds, creds.backTransUrl, fields, clientOptions);
      if (sent.kind === 'unknown') return { status: 'processing', reason: sent.reason };
      return operationFromBackTrans(sent.fields, 'refund');
    },

    async queryRefund(request) {
      const txnTime = refundTxnTime(request);
      const mode = refundTimes.get(request.refundNo)?.mode ?? parseReference(request.reference)?.mode;
      if (txnTime === undefined || mode === undefined) return { status: 'processing', reason: 'unionpay_refund_txnTime_unknown' };
      const creds = credentials.get(mode);
      if (creds === undefined) return { status: 'processing', reason: `unionpay_no_${mode}_credentials` };
      const answer = await postAcp(creds, creds.singleQueryUrl, queryFields(request.refundNo, txnTime), clientOptions);
      if (answer.kind === 'unknown') return { status: 'processing', reason: answer.reason };
      return refundOutcomeFromQuery(answer.fields);
    },

    async parseNotification(request) {
      return parseUnionPayNotification(request, { credentials, now: now() });
    },
  };
}
