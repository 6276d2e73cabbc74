/**
 * The emulator's signatures, written from the protocol, checked against the official client:
 * what alipay-sdk signs, the emulator verifies; what the emulator signs, alipay-sdk verifies.
 */
import { AlipaySdk } from 'alipay-sdk';
import { describe, expect, it } from 'vitest';
import { generateRsaKeyPair, signContent, signedResponseText, signNotificationParams, verifyRequestSignature } from './signing.ts';

const app = generateRsaKeyPair();
const alipay = generateRsaKeyPair();
const sdk = new AlipaySdk({ appId: '2021000000000001', privateKey: app.privateKey, keyType: 'PKCS8', alipayPublicKey: alipay.publicKey, gateway: 'http://127.0.0.1:9/gateway.do' });

function paramsOf(query: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(query));
}

describe('request signatures', () => {
  it('verifies what alipay-sdk signs (sign_type included) and rejects any change', () => {
    const orderString = sdk.sdkExecute('alipay.trade.app.pay', { bizContent: { outTradeNo: 'o_1', totalAmount: '0.01', subject: '茶 & 咖啡=好' }, notifyUrl: 'https://shop.test/n?a=1&b=2' });
    const params = paramsOf(orderString);
    expect(params.sign_type).toBe('RSA2');
    expect(verifyRequestSignature(params, app.publicKey).ok).toBe(true);
    expect(verifyRequestSignature({ ...params, biz_content: params.biz_content!.replace('0.01', '0.02') }, app.publicKey).ok).toBe(false);
    expect(verifyRequestSignature({ ...params, sign_type: 'RSA' }, app.publicKey).ok).toBe(false);
    expect(verifyRequestSignature(params, alipay.publicKey).ok).toBe(false);
    expect(verifyRequestSignature({ ...params, sign: 'not base64 at all' }, app.publicKey).ok).toBe(false);
  });

  it('verifies the page-pay GET URL alipay-sdk builds, including its alipay_sdk parameter', () => {
    const url = new URL(sdk.pageExec('alipay.trade.page.pay', 'GET', { bizContent: { outTradeNo: 'o_2', totalAmount: '1.00', subject: 's', productCode: 'FAST_INSTANT_TRADE_PAY' }, returnUrl: 'https://shop.test/r' }));
    const params = Object.fromEntries(url.searchParams);
    expect(params.alipay_sdk).toBeDefined();
    expect(verifyRequestSignature(params, app.publicKey).ok).toBe(true);
  });

  it('builds the content Alipay signs: sorted, raw values, empty values and excluded keys left out', () => {
    expect(signContent({ b: '2', a: '1=&', c: '', sign: 'x', sign_type: 'RSA2' }, ['sign'])).toBe('a=1=&&b=2&sign_type=RSA2');
    expect(signContent({ b: '2', a: '1', sign: 'x', sign_type: 'RSA2' }, ['sign', 'sign_type'])).toBe('a=1&b=2');
  });
});

describe('response and notification signatures', () => {
  it('signs the exact bytes of the _response object, which alipay-sdk verifies; a corrupted one it refuses', () => {
    const response = { code: '10000', msg: 'Success', out_trade_no: 'o_1', qr_code: 'http://127.0.0.1/qr/abc', note: '中文 "quoted" \\ /' };
    const text = signedResponseText({ responseKey: 'alipay_trade_precreate_response', response, privateKeyPem: alipay.privateKey });
    const parsed = JSON.parse(text) as { sign: string; alipay_trade_precreate_response: unknown };
    expect(parsed.alipay_trade_precreate_response).toEqual(response);
    expect(() => sdk.checkResponseSign(text, 'alipay_trade_precreate_response', parsed.sign, '')).not.toThrow();
    const bad = signedResponseText({ responseKey: 'alipay_trade_precreate_response', response, privateKeyPem: alipay.privateKey, corruptSignature: true });
    expect(() => sdk.checkResponseSign(bad, 'alipay_trade_precreate_response', (JSON.parse(bad) as { sign: string }).sign, '')).toThrow(/验签失败/);
  });

  it('signs notifications so that checkNotifySignV2 accepts them, values with % and + included', () => {
    const fields = { app_id: '2021000000000001', out_trade_no: 'o_1', passback_params: 'a%3D1+2', trade_status: 'TRADE_SUCCESS', sign_type: 'RSA2' };
    const sign = signNotificationParams(fields, alipay.privateKey);
    expect(sdk.checkNotifySignV2({ ...fields, sign })).toBe(true);
    expect(sdk.checkNotifySignV2({ ...fields, trade_status: 'TRADE_CLOSED', sign })).toBe(false);
  });
});
