/**
 * What a merchant gives Fenpay to talk to WeChat Pay API v3, checked once when the adapter is built.
 * Two ways to verify WeChat's answers exist side by side in the wild: the WeChat Pay public key
 * (`PUB_KEY_ID_…`, the only one for merchants since late 2024) and platform certificates fetched from
 * GET /v3/certificates. Giving a public key selects the first; leaving it out selects the second.
 */
import type { KeyObject } from 'node:crypto';
import { assert, type Secret } from '../../kernel/index.ts';
import { privateKeyFrom, publicKeyFrom } from './wechat-pay-crypto.ts';

export const liveBaseUrl = 'https://api.mch.weixin.qq.com';

export interface WechatPayCredentials {
  /** 商户号. */
  readonly mchId: string;
  /** The AppID bound to the merchant (公众号, 小程序 or App). */
  readonly appId: string;
  /** Serial number of the merchant API certificate (商户API证书序列号); WeChat finds our public key by it. */
  readonly merchantSerialNo: string;
  /** apiclient_key.pem. */
  readonly merchantPrivateKey: Secret<string>;
  /** The 32-character APIv3 key: decrypts notifications and platform certificates. */
  readonly apiV3Key: Secret<string>;
  /** WeChat Pay public key (PEM) and its id `PUB_KEY_ID_…`: public-key mode. Absent: platform-certificate mode. */
  readonly platformPublicKey?: string | undefined;
  readonly publicKeyId?: string | undefined;
  /** `https://api.mch.weixin.qq.com` live; the emulator's `<publicUrl>/sandbox/wechat-pay` in test mode. */
  readonly baseUrl: string;
}

export type VerificationMode = { readonly mode: 'public_key'; readonly publicKeyId: string; readonly publicKey: KeyObject } | { readonly mode: 'platform_certificate' };

/** The parsed, ready-to-use form; keys are KeyObjects so PEM text is parsed once. */
export interface WechatPayKeys {
  readonly mchId: string;
  readonly appId: string;
  readonly merchantSerialNo: string;
  readonly privateKey: KeyObject;
  readonly apiV3Key: Secret<string>;
  readonly verification: VerificationMode;
  /** Without a trailing slash. */
  readonly baseUrl: string;
  /** The path prefix of baseUrl (`''` live, `/sandbox/wechat-pay` against the emulator). */
  readonly basePath: string;
}

/** A misconfigured channel is a bug at boot, not a payment outcome: it asserts. */
export function parseCredentials(credentials: WechatPayCredentials): WechatPayKeys {
  assert(/^\d{6,12}$/.test(credentials.mchId), 'WeChat Pay mchId must be the numeric merchant number');
  assert(credentials.appId.length > 0, 'WeChat Pay appId is required');
  assert(/^[0-9A-Fa-f]{8,64}$/.test(credentials.merchantSerialNo), 'WeChat Pay merchantSerialNo must be a hex certificate serial');
  assert(Buffer.byteLength(credentials.apiV3Key.reveal(), 'utf8') === 32, 'WeChat Pay apiV3Key must be 32 bytes');
  const url = new URL(credentials.baseUrl);
  assert(url.protocol === 'https:' || url.protocol === 'http:', 'WeChat Pay baseUrl must be http(s)');
  const { platformPublicKey, publicKeyId } = credentials;
  assert((platformPublicKey === undefined) === (publicKeyId === undefined), 'WeChat Pay platformPublicKey and publicKeyId come together');
  let verification: VerificationMode = { mode: 'platform_certificate' };
  if (platformPublicKey !== undefined && publicKeyId !== undefined) {
    assert(publicKeyId.startsWith('PUB_KEY_ID_'), 'WeChat Pay publicKeyId starts with PUB_KEY_ID_');
    verification = { mode: 'public_key', publicKeyId, publicKey: publicKeyFrom(platformPublicKey) };
  }
  const baseUrl = credentials.baseUrl.replace(/\/+$/, '');
  return {
    mchId: credentials.mchId,
    appId: credentials.appId,
    merchantSerialNo: credentials.merchantSerialNo.toUpperCase(),
    privateKey: privateKeyFrom(credentials.merchantPrivateKey.reveal()),
    apiV3Key: credentials.apiV3Key,
    verification,
    baseUrl,
    basePath: new URL(baseUrl).pathname.replace(/\/+$/, ''),
  };
}
