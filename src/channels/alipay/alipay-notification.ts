/**
 * Alipay's asynchronous notification: a form-urlencoded POST (`trade_status_sync`), signed with the
 * Alipay key. Verified with alipay-sdk's checkNotifySignV2 (raw values, so `passback_params` with `%`
 * survive), then checked to be for our app. Acknowledged with exactly `success`; anything else makes
 * Alipay retry, which is what we want for a notification we could not verify.
 *
 * Payment notifications carry trade_status. Refund notifications are the same message with
 * `out_biz_no` (the refund's out_request_no), `refund_fee` (the total refunded so far, not this
 * refund's amount) and `gmt_refund`.
 */
import type { ChannelNotification, ChannelOutcome, HttpReply, InboundHttp, VerifiedNotification } from '../channel.ts';
import { isKnownTradeStatus, tradeStatusMeanings } from './alipay-status.ts';
import { paid } from './alipay-transform.ts';
import { assertNever } from '../../kernel/index.ts';

export const notificationAck: HttpReply = { status: 200, contentType: 'text/plain; charset=utf-8', body: 'success' };

function reject(reason: string, status = 400): VerifiedNotification {
  return { ok: false, reason, reply: { status, contentType: 'text/plain; charset=utf-8', body: `fail: ${reason}` } };
}

/** The form fields, decoded once; a field sent twice is ambiguous and rejected. */
export function parseForm(rawBody: Buffer): Record<string, string> | undefined {
  const fields: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawBody.toString('utf8'))) {
    if (Object.hasOwn(fields, key)) return undefined;
    fields[key] = value;
  }
  return fields;
}

/** A field Alipay sent with a value; an empty value is as good as absent. */
function present(fields: Readonly<Record<string, string>>, key: string): string | undefined {
  const value = fields[key];
  return value === undefined || value === '' ? undefined : value;
}

function paymentOutcome(fields: Readonly<Record<string, string>>, tradeNo: string): ChannelOutcome {
  const status = fields.trade_status;
  if (!isKnownTradeStatus(status)) return { status: 'processing', reference: tradeNo, reason: `unknown alipay trade_status ${JSON.stringify(status ?? null)}` };
  const meaning = tradeStatusMeanings[status];
  switch (meaning) {
    case 'paid':
      return paid(tradeNo, fields.total_amount);
    case 'closed':
      return present(fields, 'gmt_payment') === undefined ? { status: 'canceled', reference: tradeNo } : paid(tradeNo, fields.total_amount);
    case 'waiting':
      // Not notified by default; if it comes, it says nothing final.
      return { status: 'processing', reference: tradeNo, reason: 'alipay notified WAIT_BUYER_PAY' };
    default:
      return assertNever(meaning, 'unmapped alipay trade status');
  }
}

export function parseAlipayNotification(options: {
  readonly request: InboundHttp;
  readonly appId: string;
  readonly verify: (fields: Readonly<Record<string, string>>) => boolean;
}): VerifiedNotification {
  const { request } = options;
  if (request.method.toUpperCase() !== 'POST') return reject('alipay notifies with POST', 405);
  const contentType = request.headers['content-type'] ?? '';
  if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) return reject('expected a form-urlencoded body', 415);
  const fields = parseForm(request.rawBody);
  if (fields === undefined) return reject('a field appears twice');
  if (fields.charset !== undefined && fields.charset.toLowerCase() !== 'utf-8') return reject('only utf-8 notifications are supported');
  if (fields.sign === undefined || fields.sign === '') return reject('unsigned notification');
  if (!options.verify(fields)) return reject('signature does not verify');
  // A valid signature from Alipay for another app is still not ours.
  if (fields.app_id !== options.appId) return reject('notification for another app id');
  const notificationId = present(fields, 'notify_id');
  const orderNo = present(fields, 'out_trade_no');
  const tradeNo = present(fields, 'trade_no');
  if (notificationId === undefined || orderNo === undefined || tradeNo === undefined) return reject('notification lacks notify_id, out_trade_no or trade_no');
  const refundNo = present(fields, 'out_biz_no');
  let notification: ChannelNotification;
  if (refundNo !== undefined && (present(fields, 'refund_fee') !== undefined || present(fields, 'gmt_refund') !== undefined)) {
    // refund_fee is cumulative, so it is not this refund's amount; the refund is confirmed, amount unknown.
    notification = { kind: 'refund', notificationId, orderNo, refundNo, amount: undefined, outcome: { status: 'succeeded', reference: tradeNo } };
  } else {
    notification = { kind: 'payment', notificationId, orderNo, outcome: paymentOutcome(fields, tradeNo) };
  }
  return { ok: true, notification, ack: notificationAck };
}
