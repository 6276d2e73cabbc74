/** Notification verification with real RSA keys: signed as Alipay signs (rsaCheckV1), checked by alipay-sdk. */
import { createSign, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../kernel/index.ts';
import type { InboundHttp } from '../channel.ts';
import { createAlipayClient } from './alipay-client.ts';
import { parseAlipayNotification } from './alipay-notification.ts';

function keyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
}
const app = keyPair();
const alipay = keyPair();
const stranger = keyPair();
const appId = '2021000000000042';
const client = createAlipayClient({ appId, privateKey: new Secret(app.privateKey), alipayPublicKey: alipay.publicKey, gateway: 'http://127.0.0.1:9/gateway.do' }, 1_000);

function signed(fields: Record<string, string>, key = alipay.privateKey, keepSignType = false): Record<string, string> {
  const all = { sign_type: 'RSA2', ...fields };
  const content = Object.keys(all)
    .filter((k) => k !== 'sign' && (keepSignType || k !== 'sign_type'))
    .sort()
    .map((k) => `${k}=${all[k as keyof typeof all]}`)
    .join('&');
  return { ...all, sign: createSign('RSA-SHA256').update(content).sign(key, 'base64') };
}

function inbound(fields: Record<string, string>, extra: Partial<InboundHttp> = {}): InboundHttp {
  const body = Object.entries(fields)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return { method: 'POST', path: '/hooks/alipay', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, rawBody: Buffer.from(body), ...extra };
}

const paidFields = {
  app_id: appId,
  notify_id: 'n_1',
  notify_type: 'trade_status_sync',
  notify_time: '2024-01-01 10:00:05',
  charset: 'utf-8',
  version: '1.0',
  out_trade_no: 'ord_1',
  trade_no: '2024010122001400000000000001',
  trade_status: 'TRADE_SUCCESS',
  total_amount: '12.34',
  gmt_payment: '2024-01-01 10:00:00',
  subject: '测试 a&b=c',
  passback_params: 'x%3D1%25',
};

const parse = (request: InboundHttp) => parseAlipayNotification({ request, appId, verify: (f) => client.verifyNotification(f) });

describe('parseAlipayNotification', () => {
  it('verifies a payment notification, with or without sign_type in the signed content, and acknowledges with exactly success', () => {
    for (const keep of [false, true]) {
      const verdict = parse(inbound(signed(paidFields, alipay.privateKey, keep)));
      expect(verdict).toEqual({
        ok: true,
        notification: { kind: 'payment', notificationId: 'n_1', orderNo: 'ord_1', outcome: { status: 'succeeded', reference: paidFields.trade_no, amount: 1_234n, currency: 'cny' } },
        ack: { status: 200, contentType: 'text/plain; charset=utf-8', body: 'success' },
      });
    }
  });

  it('rejects a changed field, a foreign key, another app, a repeated field, and a GET, never with success', () => {
    const good = signed(paidFields);
    const cases: InboundHttp[] = [
      inbound({ ...good, total_amount: '0.01' }),
      inbound(signed(paidFields, stranger.privateKey)),
      inbound(signed({ ...paidFields, app_id: '2021000000000043' })),
      { ...inbound(good), rawBody: Buffer.from(`${inbound(good).rawBody.toString()}&total_amount=0.01`) },
      { ...inbound(good), method: 'GET' },
      inbound({ ...good, sign: '' }),
      { ...inbound(good), headers: { 'content-type': 'application/json' } },
    ];
    for (const request of cases) {
      const verdict = parse(request);
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) {
        expect(verdict.reply.body).not.toBe('success');
        expect(verdict.reply.status).toBeGreaterThanOrEqual(400);
      }
    }
  });

  it('maps closed trades and refunds', () => {
    expect(parse(inbound(signed({ ...paidFields, trade_status: 'TRADE_CLOSED', gmt_payment: '' })))).toMatchObject({ ok: true, notification: { outcome: { status: 'canceled' } } });
    const refund = parse(inbound(signed({ ...paidFields, out_biz_no: 'rf_1', refund_fee: '2.00', gmt_refund: '2024-01-02 10:00:00.000' })));
    expect(refund).toMatchObject({ ok: true, notification: { kind: 'refund', refundNo: 'rf_1', orderNo: 'ord_1', amount: undefined, outcome: { status: 'succeeded' } } });
    expect(parse(inbound(signed({ ...paidFields, trade_status: 'TRADE_WHATEVER' })))).toMatchObject({ ok: true, notification: { outcome: { status: 'processing' } } });
  });
});
