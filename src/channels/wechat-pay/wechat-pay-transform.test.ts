import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AuthorizeRequest } from '../channel.ts';
import { refundStatuses, tradeStates } from './wechat-pay-status.ts';
import { beijingTime, outcomeFromError, outcomeFromPrepay, outcomeFromRefund, outcomeFromTransaction, operationFromError, toPrepayRequest, truncateUtf8 } from './wechat-pay-transform.ts';
import { fenFrom, fenToWire, type RefundAnswer, type TransactionAnswer } from './wechat-pay-wire.ts';

const merchant = { appId: 'wxd678efh567hg6787', mchId: '1900000109' };
const expected = { orderNo: 'ch_1', mchId: merchant.mchId };

function transaction(fields: Partial<TransactionAnswer>): TransactionAnswer {
  return {
    appId: merchant.appId,
    mchId: merchant.mchId,
    outTradeNo: 'ch_1',
    transactionId: '4200000000000000000000000001',
    tradeType: 'NATIVE',
    tradeState: 'SUCCESS',
    tradeStateDesc: undefined,
    successTime: '2031-06-15T20:00:00+08:00',
    total: 12_345n,
    currency: 'CNY',
    payerOpenId: 'o1',
    ...fields,
  };
}

function refund(fields: Partial<RefundAnswer>): RefundAnswer {
  return { mchId: merchant.mchId, refundId: '50000000000000000000000000001', outRefundNo: 're_1', outTradeNo: 'ch_1', transactionId: '42', status: 'SUCCESS', refund: 300n, total: 1000n, currency: 'CNY', ...fields };
}

function request(fields: Partial<AuthorizeRequest>): AuthorizeRequest {
  return { orderNo: 'ch_1', amount: 12_345n, currency: 'cny', capture: 'automatic', paymentMethod: { type: 'wechat_pay' }, description: 'd', returnUrl: undefined, livemode: false, notifyUrl: 'https://fenpay.test/hooks/wechat_pay', ...fields };
}

describe('amounts', () => {
  it('sends integer fen as a JSON number and reads back only non-negative safe integers', () => {
    expect(fenToWire(12_345n)).toBe(12_345);
    expect(() => fenToWire(-1n)).toThrow(RangeError);
    expect(() => fenToWire(2n ** 53n)).toThrow(RangeError);
    expect(fenFrom(1)).toBe(1n);
    expect(fenFrom(0)).toBe(0n);
    for (const value of [1.5, -1, 2 ** 53, '100', null, undefined]) expect(fenFrom(value), String(value)).toBeUndefined();
  });

  it('puts the amount in fen and the currency in upper case in the order body', () => {
    const built = toPrepayRequest(request({}), merchant, undefined);
    expect(built).toMatchObject({ ok: true, request: { tradeType: 'native', body: { amount: { total: 12_345, currency: 'CNY' }, out_trade_no: 'ch_1', mchid: '1900000109' } } });
    expect(toPrepayRequest(request({ currency: 'usd' }), merchant, undefined)).toMatchObject({ ok: false });
    expect(toPrepayRequest(request({ amount: 0n }), merchant, undefined)).toMatchObject({ ok: false });
    expect(toPrepayRequest(request({ notifyUrl: undefined }), merchant, undefined)).toMatchObject({ ok: false, message: expect.stringContaining('notify') });
  });
});

describe('toPrepayRequest', () => {
  it('chooses the endpoint from the flow, with Native as the default', () => {
    const kind = (flow: AuthorizeRequest['flow']) => {
      const built = toPrepayRequest(request({ flow, payer: { openId: 'o1', clientIp: '1.2.3.4' } }), merchant, undefined);
      return built.ok ? built.request.tradeType : built.message;
    };
    expect([kind(undefined), kind('qr'), kind('page'), kind('jsapi'), kind('wap'), kind('app')]).toEqual(['native', 'native', 'native', 'jsapi', 'h5', 'app']);
  });

  it('adds the payer for JSAPI, the scene for H5 and time_expire in Beijing time', () => {
    const jsapi = toPrepayRequest(request({ flow: 'jsapi', payer: { openId: 'o1' } }), merchant, undefined);
    expect(jsapi).toMatchObject({ ok: true, request: { body: { payer: { openid: 'o1' } } } });
    const h5 = toPrepayRequest(request({ flow: 'wap', payer: { clientIp: '203.0.113.9' }, expiresAt: new Date('2031-06-15T12:00:00Z') }), merchant, undefined);
    expect(h5).toMatchObject({ ok: true, request: { body: { scene_info: { payer_client_ip: '203.0.113.9', h5_info: { type: 'Wap' } }, time_expire: '2031-06-15T20:00:00+08:00' } } });
  });

  it('cuts the description to 127 UTF-8 bytes without splitting a character', () => {
    const long = '微'.repeat(50);
    expect(Buffer.byteLength(truncateUtf8(long, 127))).toBe(126);
    expect(truncateUtf8('abc', 127)).toBe('abc');
    expect(beijingTime(new Date('2031-12-31T16:30:00Z'))).toBe('2032-01-01T00:30:00+08:00');
  });
});

describe('outcomeFromTransaction', () => {
  it('maps every documented trade_state', () => {
    const outcomes = Object.fromEntries(tradeStates.map((tradeState) => [tradeState, outcomeFromTransaction(transaction({ tradeState }), expected).status]));
    expect(outcomes).toEqual({ SUCCESS: 'succeeded', REFUND: 'succeeded', NOTPAY: 'processing', CLOSED: 'canceled', REVOKED: 'canceled', USERPAYING: 'processing', PAYERROR: 'failed' });
  });

  it('echoes what WeChat says was paid', () => {
    expect(outcomeFromTransaction(transaction({ total: 99n }), expected)).toEqual({ status: 'succeeded', reference: '4200000000000000000000000001', amount: 99n, currency: 'cny' });
  });

  it('does not believe unknown states, incomplete successes or answers about other orders', () => {
    expect(outcomeFromTransaction(transaction({ tradeState: 'PAID' }), expected).status).toBe('processing');
    expect(outcomeFromTransaction(transaction({ transactionId: undefined }), expected).status).toBe('processing');
    expect(outcomeFromTransaction(transaction({ total: undefined }), expected).status).toBe('processing');
    expect(outcomeFromTransaction(transaction({ outTradeNo: 'ch_2' }), expected).status).toBe('processing');
    expect(outcomeFromTransaction(transaction({ mchId: '1900000110' }), expected).status).toBe('processing');
  });
});

describe('outcomeFromRefund', () => {
  const want = { refundNo: 're_1', refundAmount: 300n, mchId: merchant.mchId };

  it('maps every documented refund status', () => {
    const outcomes = Object.fromEntries(refundStatuses.map((status) => [status, outcomeFromRefund(refund({ status }), want).status]));
    expect(outcomes).toEqual({ SUCCESS: 'succeeded', PROCESSING: 'processing', ABNORMAL: 'processing', CLOSED: 'failed' });
  });

  it('does not believe a success for another amount or refund', () => {
    expect(outcomeFromRefund(refund({ refund: 301n }), want).status).toBe('processing');
    expect(outcomeFromRefund(refund({ outRefundNo: 're_2' }), want).status).toBe('processing');
    expect(outcomeFromRefund(refund({ status: 'REFUNDED' }), want).status).toBe('processing');
    expect(outcomeFromRefund(refund({}), want)).toEqual({ status: 'succeeded', reference: '50000000000000000000000000001' });
  });
});

describe('errors', () => {
  it('treats 5xx and "try again" codes as unknown, other verified refusals as failures', () => {
    expect(outcomeFromError(500, { code: 'SYSTEM_ERROR', message: '系统错误' }, 'ch_1').status).toBe('processing');
    expect(outcomeFromError(502, undefined, 'ch_1').status).toBe('processing');
    expect(outcomeFromError(429, { code: 'FREQUENCY_LIMITED', message: '' }, 'ch_1').status).toBe('processing');
    expect(outcomeFromError(400, { code: 'PARAM_ERROR', message: 'bad' }, 'ch_1')).toMatchObject({ status: 'failed', failure: { code: 'processing_error', declineCode: 'param_error' } });
    expect(operationFromError(400, { code: 'INVALID_REQUEST', message: '申请退款金额超过订单可退金额' })).toMatchObject({ status: 'failed' });
    expect(operationFromError(500, { code: 'SYSTEM_ERROR', message: '' }).status).toBe('processing');
  });
});

describe('outcomeFromPrepay', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signing = { ...merchant, privateKey, timestamp: 1_700_000_000, nonce: 'N' };

  it('needs the field its trade type promises', () => {
    const none = { codeUrl: undefined, h5Url: undefined, prepayId: undefined };
    for (const tradeType of ['native', 'h5', 'jsapi', 'app'] as const) expect(outcomeFromPrepay(tradeType, none, { orderNo: 'ch_1', returnUrl: undefined, signing }).status).toBe('processing');
    expect(outcomeFromPrepay('h5', { ...none, h5Url: 'https://wx.tenpay.com/x?prepay_id=wx1' }, { orderNo: 'ch_1', returnUrl: 'https://shop.test/r?a=1', signing })).toMatchObject({
      action: { type: 'redirect_to_url', url: 'https://wx.tenpay.com/x?prepay_id=wx1&redirect_url=https%3A%2F%2Fshop.test%2Fr%3Fa%3D1' },
    });
  });
});
