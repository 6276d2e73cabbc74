/**
 * WeChat Pay API v3 cryptography, pure and synchronous: the request signature (SHA256withRSA over
 * METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n), the answer and notification signature (over
 * TIMESTAMP\nNONCE\nBODY\n), the JSAPI/App payment signatures, and AEAD_AES_256_GCM decryption of
 * notification resources and platform certificates. Facts from wechatpay-go (core/auth, core/notify).
 */
import { createDecipheriv, createPrivateKey, createPublicKey, createSign, createVerify, randomBytes, type KeyObject } from 'node:crypto';

export const authorizationSchema = 'WECHATPAY2-SHA256-RSA2048';

/** WeChat's deliberate "do you really verify?" probes carry a signature with this prefix. */
export const signatureTestPrefix = 'WECHATPAY/SIGNTEST/';

/** Answers and notifications older or newer than this are refused (wechatpay-go validator: 5 minutes). */
export const signatureWindowSeconds = 300;

const nonceAlphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A 32-character random nonce (wechatpay-go uses 32 alphanumerics). */
export function newNonce(length = 32): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += nonceAlphabet[byte % nonceAlphabet.length];
  return out;
}

export function privateKeyFrom(pem: string): KeyObject {
  return createPrivateKey(pem);
}

export function publicKeyFrom(pem: string): KeyObject {
  return createPublicKey(pem);
}

export function signSha256WithRsa(message: string, key: KeyObject): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(key, 'base64');
}

export function verifySha256WithRsa(message: string, signature: string, key: KeyObject): boolean {
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(key, signature, 'base64');
  } catch {
    return false;
  }
}

export interface RequestToSign {
  readonly method: string;
  /** Path and query exactly as sent, e.g. `/v3/pay/transactions/out-trade-no/o1?mchid=1900000109`. */
  readonly canonicalUrl: string;
  readonly timestamp: number;
  readonly nonce: string;
  /** The exact body bytes sent; empty for GET. */
  readonly body: string;
}

export function requestMessage(request: RequestToSign): string {
  return `${request.method}\n${request.canonicalUrl}\n${request.timestamp}\n${request.nonce}\n${request.body}\n`;
}

export interface AuthorizationOptions {
  readonly mchId: string;
  readonly serialNo: string;
  readonly privateKey: KeyObject;
}

/** The `Authorization` header value for one request. */
export function authorizationHeader(request: RequestToSign, options: AuthorizationOptions): string {
  const signature = signSha256WithRsa(requestMessage(request), options.privateKey);
  return (
    `${authorizationSchema} mchid="${options.mchId}",nonce_str="${request.nonce}",signature="${signature}",` +
    `timestamp="${request.timestamp}",serial_no="${options.serialNo}"`
  );
}

export function answerMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

/** The JSAPI `paySign` (wx.requestPayment / WeixinJSBridge): over appId, timeStamp, nonceStr, package. */
export function jsapiPaySign(fields: { appId: string; timeStamp: string; nonceStr: string; package: string }, key: KeyObject): string {
  return signSha256WithRsa(`${fields.appId}\n${fields.timeStamp}\n${fields.nonceStr}\n${fields.package}\n`, key);
}

/** The App SDK `sign`: over appid, timestamp, noncestr, prepayid. */
export function appPaySign(fields: { appid: string; timestamp: string; noncestr: string; prepayid: string }, key: KeyObject): string {
  return signSha256WithRsa(`${fields.appid}\n${fields.timestamp}\n${fields.noncestr}\n${fields.prepayid}\n`, key);
}

export interface AeadResource {
  readonly ciphertext: string;
  readonly nonce: string;
  readonly associatedData: string;
}

const gcmTagBytes = 16;

/**
 * AEAD_AES_256_GCM as WeChat uses it: key = the 32-byte APIv3 key, IV = the nonce's bytes, AAD =
 * associated_data, ciphertext = base64 of encrypted bytes with the 16-byte tag appended. Returns
 * undefined when the tag does not authenticate (wrong key, tampered data).
 */
export function decryptAeadAes256Gcm(resource: AeadResource, apiV3Key: string): string | undefined {
  const key = Buffer.from(apiV3Key, 'utf8');
  if (key.length !== 32) return undefined;
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (data.length < gcmTagBytes) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(resource.nonce, 'utf8'), { authTagLength: gcmTagBytes });
    decipher.setAAD(Buffer.from(resource.associatedData, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - gcmTagBytes));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - gcmTagBytes)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
