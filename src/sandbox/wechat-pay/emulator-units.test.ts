import { createDecipheriv, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderTradeBill } from './bill.ts';
import { encryptResource, generateRsaKeyPair, issuePlatformCertificate, parseAuthorization, randomSerial } from './crypto.ts';
import { createFaults } from './faults.ts';
import { retryScheduleSeconds } from './notifier.ts';
import type { EmulatedOrder, EmulatedRefund } from './store.ts';

describe('parseAuthorization', () => {
  it('reads the five fields in any order and refuses other schemes', () => {
    expect(parseAuthorization('WECHATPAY2-SHA256-RSA2048 serial_no="AB",timestamp="1",signature="c2ln",nonce_str="N",mchid="1900000109"')).toEqual({
      mchid: '1900000109',
      nonceStr: 'N',
      signature: 'c2ln',
      timestamp: '1',
      serialNo: 'AB',
    });
    expect(parseAuthorization('Bearer x')).toBeUndefined();
    expect(parseAuthorization('WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="N"')).toBeUndefined();
    expect(parseAuthorization(undefined)).toBeUndefined();
  });
});

describe('encryptResource', () => {
  it('appends the GCM tag to the ciphertext and uses a 12-character nonce', () => {
    const key = 'k'.repeat(32);
    const resource = encryptResource('{"a":1}', key, 'transaction');
    expect(resource.nonce).toMatch(/^[0-9A-Za-z]{12}$/);
    const bytes = Buffer.from(resource.ciphertext, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key), Buffer.from(resource.nonce));
    decipher.setAAD(Buffer.from('transaction'));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    expect(Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString()).toBe('{"a":1}');
  });
});

describe('issuePlatformCertificate', () => {
  it('issues an X.509 certificate for the platform key with the chosen serial', async () => {
    const keyPair = generateRsaKeyPair();
    const serialNo = randomSerial();
    const issued = await issuePlatformCertificate({ keyPair, serialNo, notBefore: new Date('2030-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') });
    const certificate = new X509Certificate(issued.pem);
    expect(certificate.serialNumber).toBe(serialNo);
    expect(certificate.subject).toContain('CN=Tenpay.com sign');
    expect(certificate.publicKey.export({ type: 'spki', format: 'pem' })).toBe(keyPair.publicKeyPem);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(new Date(certificate.validTo).toISOString()).toBe('2035-01-01T00:00:00.000Z');
  });
});

describe('faults', () => {
  it('arms a fault for N occurrences and then disarms it', () => {
    const faults = createFaults();
    faults.arm('system_error', 2);
    faults.arm('notify_drop');
    expect(faults.pending()).toEqual({ system_error: 2, notify_drop: 1 });
    expect([faults.takeApi(), faults.takeApi(), faults.takeApi()]).toEqual(['system_error', 'system_error', undefined]);
    expect([faults.take('notify_drop'), faults.take('notify_drop')]).toEqual([true, false]);
    expect(() => faults.arm('hang', 0)).toThrow(RangeError);
  });
});

describe('retry schedule', () => {
  it("is WeChat's fifteen retries over 24h4m", () => {
    expect(retryScheduleSeconds).toHaveLength(15);
    expect(retryScheduleSeconds.reduce((a, b) => a + b, 0)).toBe(24 * 3600 + 4 * 60);
  });
});

describe('renderTradeBill', () => {
  const paidAt = new Date('2031-06-15T01:02:03Z'); // 09:02:03 in Beijing
  const order = {
    outTradeNo: 'ch_bill_1',
    tradeType: 'NATIVE',
    appId: 'wx1',
    mchId: '1900000109',
    description: 'Tea, green',
    attach: '',
    total: 1_999n,
    transactionId: '4200000000000000000000000009',
    successTime: paidAt,
    payerOpenId: 'o1',
  } as EmulatedOrder;
  const refund = {
    outRefundNo: 're_bill_1',
    refundId: '50000000000000000000000000009',
    outTradeNo: 'ch_bill_1',
    amount: 250n,
    createdAt: new Date('2031-06-15T02:00:00Z'),
    status: 'SUCCESS',
    successTime: new Date('2031-06-15T02:00:05Z'),
  } as EmulatedRefund;

  it("writes WeChat's columns, backticked values, a 0.60% fee rounded half up and the totals", () => {
    const csv = renderTradeBill({ billDate: '2031-06-15', billType: 'ALL', orders: [order], refunds: [refund] }) ?? '';
    const lines = csv.replace(/^\uFEFF/, '').trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注',
    );
    expect(lines[1]).toBe(
      '`2031-06-15 09:02:03,`wx1,`1900000109,`0,`,`4200000000000000000000000009,`ch_bill_1,`o1,`NATIVE,`SUCCESS,`OTHERS,`CNY,`19.99,`0.00,`0,`0,`0.00,`0.00,`,`,`Tea  green,`,`0.12,`0.60%,`19.99,`0.00,`',
    );
    expect(lines[2]).toContain('`REFUND,');
    expect(lines[2]).toContain('`re_bill_1,`2.50,');
    expect(lines[2]).toContain('`-0.02,');
    expect(lines[3]).toBe('总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额');
    expect(lines[4]).toBe('`2,`19.99,`2.50,`0.00,`0.10000,`19.99,`2.50');
  });

  it('keeps Beijing days apart and has no file for an empty day', () => {
    expect(renderTradeBill({ billDate: '2031-06-14', billType: 'ALL', orders: [order], refunds: [refund] })).toBeUndefined();
    const successOnly = renderTradeBill({ billDate: '2031-06-15', billType: 'SUCCESS', orders: [order], refunds: [refund] }) ?? '';
    expect(successOnly).not.toContain('REFUND');
    expect(successOnly).not.toContain('商户退款单号');
  });
});
