/**
 * WeChat Pay notifications (支付通知, 退款通知): verify the Wechatpay-* signature inside the 5-minute
 * window, refuse signature-test probes, decrypt the AEAD_AES_256_GCM resource with the APIv3 key, and
 * say what it means. WeChat counts 200/204 as received; 4xx/5xx with {"code":"FAIL"} makes it retry.
 */
import type { HttpReply, InboundHttp, VerifiedNotification } from '../channel.ts';
import { signedHeadersOf, type WechatPayClient } from './wechat-pay-client.ts';
import { authorizationSchema, decryptAeadAes256Gcm } from './wechat-pay-crypto.ts';
import { outcomeFromRefund, outcomeFromTransaction } from './wechat-pay-transform.ts';
import { parseNotificationEnvelope, parseRefund, parseTransaction } from './wechat-pay-wire.ts';

/** "接收成功：HTTP应答状态码需返回200或204，无需返回应答报文。" */
export const notificationAck: HttpReply = { status: 204, contentType: 'application/json', body: '' };

function refuse(status: number, reason: string): VerifiedNotification {
  return { ok: false, reason, reply: { status, contentType: 'application/json', body: JSON.stringify({ code: 'FAIL', message: reason }) } };
}

const refundEvents: ReadonlySet<string> = new Set(['REFUND.SUCCESS', 'REFUND.ABNORMAL', 'REFUND.CLOSED']);

export async function parseWechatNotification(request: InboundHttp, context: { readonly client: WechatPayClient; readonly mchId: string }): Promise<VerifiedNotification> {
  if (request.method.toUpperCase() !== 'POST') return refuse(405, 'notifications are POSTed');
  const signatureType = request.headers['wechatpay-signature-type'];
  if (signatureType !== undefined && signatureType !== authorizationSchema) return refuse(401, `unsupported signature type ${signatureType}`);
  const text = request.rawBody.toString('utf8');
  const verified = await context.client.verifySignature(signedHeadersOf(request.headers), text);
  if (!verified.ok) return refuse(401, verified.reason);

  let envelope: ReturnType<typeof parseNotificationEnvelope>;
  try {
    envelope = parseNotificationEnvelope(JSON.parse(text));
  } catch {
    envelope = undefined;
  }
  if (envelope === undefined) return refuse(400, 'the notification is not a WeChat Pay notification');
  if (envelope.algorithm !== 'AEAD_AES_256_GCM') return refuse(400, `unsupported resource algorithm ${envelope.algorithm}`);
  const plaintext = decryptAeadAes256Gcm(envelope.resource, context.client.apiV3Key());
  if (plaintext === undefined) return refuse(400, 'the resource does not decrypt with the APIv3 key');
  let resource: unknown;
  try {
    resource = JSON.parse(plaintext);
  } catch {
    return refuse(400, 'the decrypted resource is not JSON');
  }

  if (envelope.eventType.startsWith('TRANSACTION.')) {
    const transaction = parseTransaction(resource);
    if (transaction === undefined) return refuse(400, 'the transaction resource lacks out_trade_no or trade_state');
    if (transaction.mchId !== context.mchId) return refuse(400, 'the notification is for another merchant');
    const outcome = outcomeFromTransaction(transaction, { orderNo: transaction.outTradeNo, mchId: context.mchId });
    return { ok: true, ack: notificationAck, notification: { kind: 'payment', notificationId: envelope.id, orderNo: transaction.outTradeNo, outcome } };
  }
  if (refundEvents.has(envelope.eventType)) {
    const refund = parseRefund(resource);
    if (refund === undefined || refund.outTradeNo === undefined) return refuse(400, 'the refund resource lacks out_refund_no, out_trade_no or refund_status');
    if (refund.mchId !== context.mchId) return refuse(400, 'the notification is for another merchant');
    const outcome = outcomeFromRefund(refund, { refundNo: refund.outRefundNo, refundAmount: undefined, mchId: context.mchId });
    return {
      ok: true,
      ack: notificationAck,
      notification: { kind: 'refund', notificationId: envelope.id, orderNo: refund.outTradeNo, refundNo: refund.outRefundNo, amount: refund.refund, outcome },
    };
  }
  // Unknown events are refused so that nothing is silently dropped; WeChat retries, then gives up.
  return refuse(400, `unsupported event type ${envelope.eventType}`);
}
