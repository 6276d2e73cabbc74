/**
 * UnionPay's back notification (`backUrl`): a form POST, verified like any answer (certificate chain,
 * CN, signature). UnionPay treats HTTP 200 as delivered, so a verified one is acknowledged with
 * `200 ok` and anything else with `400` so that UnionPay sends it again (up to five times).
 */
import type { ChannelNotification, InboundHttp, VerifiedNotification } from '../channel.ts';
import type { ResolvedCredentials } from './unionpay-credentials.ts';
import { verifyMessage } from './unionpay-sign.ts';
import { paymentOutcomeFromResult, refundOutcomeFromResult, type UnionPayMode } from './unionpay-transform.ts';
import { classifyAcpCode } from './unionpay-status.ts';
import { decodeForm, orderIdPattern, parseFen, txnTimePattern, type AcpFields } from './unionpay-wire.ts';

const ack = { status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok' } as const;

function reject(reason: string): VerifiedNotification {
  return { ok: false, reason, reply: { status: 400, contentType: 'text/plain; charset=utf-8', body: 'fail' } };
}

export interface NotificationContext {
  readonly credentials: ReadonlyMap<UnionPayMode, ResolvedCredentials>;
  readonly now: Date;
}

export function parseUnionPayNotification(request: InboundHttp, context: NotificationContext): VerifiedNotification {
  if (request.method.toUpperCase() !== 'POST') return reject('a UnionPay notification is a POST');
  const contentType = request.headers['content-type'] ?? '';
  if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) return reject('a UnionPay notification is a form');
  const fields = decodeForm(request.rawBody.toString('utf8'));
  if (fields === undefined) return reject('the form repeats a field');
  const entry = [...context.credentials.entries()].find(([, credentials]) => credentials.merId === fields['merId']);
  if (entry === undefined) return reject('the notification names a merchant this adapter does not serve');
  const [mode, credentials] = entry;
  const check = verifyMessage(fields, credentials.anchors, context.now);
  if (!check.ok) return reject(check.reason);
  const notification = toNotification(fields, mode);
  if (typeof notification === 'string') return reject(notification);
  return { ok: true, notification, ack };
}

function toNotification(fields: AcpFields, mode: UnionPayMode): ChannelNotification | string {
  const { txnType, orderId, txnTime, queryId, respCode } = fields;
  if (orderId === undefined || !orderIdPattern.test(orderId)) return 'orderId is missing or malformed';
  if (txnTime === undefined || !txnTimePattern.test(txnTime)) return 'txnTime is missing or malformed';
  if (queryId === undefined || queryId === '' || respCode === undefined) return 'queryId or respCode is missing';
  // Stable across UnionPay's resends of the same notification, different for each distinct event.
  const notificationId = `${queryId}:${txnType ?? ''}:${respCode}`;
  switch (txnType) {
    case '01':
      return { kind: 'payment', notificationId, orderNo: orderId, outcome: paymentOutcomeFromResult(respCode, fields['respMsg'], fields, { mode, txnTime }) };
    case '04': {
      const paymentOrderNo = fields['reqReserved'];
      if (paymentOrderNo === undefined || !orderIdPattern.test(paymentOrderNo)) return 'a refund notification must echo the paid orderNo in reqReserved';
      return {
        kind: 'refund',
        notificationId,
        orderNo: paymentOrderNo,
        refundNo: orderId,
        amount: parseFen(fields['txnAmt']),
        outcome: refundOutcomeFromResult(respCode, fields['respMsg'], fields),
      };
    }
    case '31': {
      const paymentOrderNo = fields['reqReserved'];
      if (paymentOrderNo === undefined || !orderIdPattern.test(paymentOrderNo)) return 'a cancel notification must echo the paid orderNo in reqReserved';
      // A cancel that went through voids the payment; one that did not leaves it as it was, which the
      // notification alone cannot tell us: processing sends Fenpay to query.
      const outcome =
        classifyAcpCode(respCode) === 'success'
          ? ({ status: 'canceled', reference: queryId } as const)
          : ({ status: 'processing', reference: undefined, reason: `unionpay_cancel_result_${respCode}` } as const);
      return { kind: 'payment', notificationId, orderNo: paymentOrderNo, outcome };
    }
    default:
      return `txnType ${txnType ?? 'missing'} is not one this adapter sends`;
  }
}
