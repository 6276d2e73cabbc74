import { createCipheriv, createVerify, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { answerMessage, authorizationHeader, decryptAeadAes256Gcm, jsapiPaySign, newNonce, requestMessage, verifySha256WithRsa } from './wechat-pay-crypto.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const apiV3Key = 'a'.repeat(16) + 'B'.repeat(16);

function encrypt(plaintext: string, key: string, nonce: string, aad: string): string {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key), Buffer.from(nonce));
  cipher.setAAD(Buffer.from(aad));
  return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
}

describe('request signing', () => {
  const request = { method: 'POST', canonicalUrl: '/v3/pay/transactions/native', timestamp: 1_554_208_460, nonce: '593BEC0C930BF1AFEB40B4A08C8FB242', body: '{"a":1}' };

  it('signs METHOD, URL, timestamp, nonce and body, each followed by a newline', () => {
    expect(requestMessage(request)).toBe('POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{"a":1}\n');
    expect(requestMessage({ ...request, method: 'GET', body: '' })).toBe('GET\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n');
  });

  it('builds the WECHATPAY2-SHA256-RSA2048 header whose signature verifies with the merchant public key', () => {
    const header = authorizationHeader(request, { mchId: '1900000109', serialNo: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C', privateKey });
    expect(header).toMatch(/^WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="[A-Za-z0-9+/=]{344}",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"$/);
    const signature = /signature="([^"]+)"/.exec(header)?.[1] ?? '';
    expect(createVerify('RSA-SHA256').update(requestMessage(request)).verify(publicKey, signature, 'base64')).toBe(true);
    expect(createVerify('RSA-SHA256').update(requestMessage({ ...request, body: '{"a":2}' })).verify(publicKey, signature, 'base64')).toBe(false);
  });

  it('makes 32-character alphanumeric nonces that differ', () => {
    const a = newNonce();
    expect(a).toMatch(/^[0-9A-Z]{32}$/);
    expect(newNonce()).not.toBe(a);
  });
});

describe('answer verification', () => {
  it('verifies timestamp\\nnonce\\nbody\\n and nothing else', () => {
    const message = answerMessage('1554209980', 'c5ac7061fccab6bf3e254dcf98995b8c', '{"code_url":"weixin://wxpay/bizpayurl?pr=qnu8GBtzz"}');
    expect(message).toBe('1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{"code_url":"weixin://wxpay/bizpayurl?pr=qnu8GBtzz"}\n');
    const signature = jsapiPaySign({ appId: 'x', timeStamp: '1', nonceStr: 'n', package: 'p' }, privateKey);
    expect(verifySha256WithRsa('x\n1\nn\np\n', signature, publicKey)).toBe(true);
    expect(verifySha256WithRsa('x\n1\nn\nq\n', signature, publicKey)).toBe(false);
    expect(verifySha256WithRsa('x\n1\nn\np\n', 'WECHATPAY/SIGNTEST/abc', publicKey)).toBe(false);
  });
});

describe('AEAD_AES_256_GCM', () => {
  const plaintext = JSON.stringify({ out_trade_no: 'ch_1', trade_state: 'SUCCESS', amount: { total: 100 } });
  const ciphertext = encrypt(plaintext, apiV3Key, 'fdasflkja484', 'transaction');

  it('decrypts a resource with the APIv3 key, nonce and associated data', () => {
    expect(decryptAeadAes256Gcm({ ciphertext, nonce: 'fdasflkja484', associatedData: 'transaction' }, apiV3Key)).toBe(plaintext);
  });

  it('refuses a tampered ciphertext, another nonce, other associated data or another key', () => {
    const bytes = Buffer.from(ciphertext, 'base64');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    expect(decryptAeadAes256Gcm({ ciphertext: bytes.toString('base64'), nonce: 'fdasflkja484', associatedData: 'transaction' }, apiV3Key)).toBeUndefined();
    expect(decryptAeadAes256Gcm({ ciphertext, nonce: 'fdasflkja485', associatedData: 'transaction' }, apiV3Key)).toBeUndefined();
    expect(decryptAeadAes256Gcm({ ciphertext, nonce: 'fdasflkja484', associatedData: 'refund' }, apiV3Key)).toBeUndefined();
    expect(decryptAeadAes256Gcm({ ciphertext, nonce: 'fdasflkja484', associatedData: 'transaction' }, 'c'.repeat(32))).toBeUndefined();
    expect(decryptAeadAes256Gcm({ ciphertext, nonce: 'fdasflkja484', associatedData: 'transaction' }, 'short')).toBeUndefined();
    expect(decryptAeadAes256Gcm({ ciphertext: 'AAAA', nonce: 'fdasflkja484', associatedData: 'transaction' }, apiV3Key)).toBeUndefined();
  });
});
