/**
 * What Fenpay needs to act as one Alipay app: the app id, the app's RSA private key (a Secret), the
 * Alipay public key that signs Alipay's answers and notifications, and the gateway. Checked once, when
 * the channel is built, so a bad key fails at boot and not at the first payment.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { Secret } from '../../kernel/index.ts';

export interface AlipayCredentials {
  readonly appId: string;
  /** PEM (PKCS#1 or PKCS#8) or the bare base64 body the Alipay console hands out. */
  readonly privateKey: Secret<string>;
  readonly alipayPublicKey: string;
  /** https://openapi.alipay.com/gateway.do in live mode; the emulator's gateway in test mode. */
  readonly gateway: string;
  /** Where notifications go when a request names none. */
  readonly notifyUrl?: string | undefined;
}

export const alipayGateways = {
  production: 'https://openapi.alipay.com/gateway.do',
  sandbox: 'https://openapi-sandbox.dl.alipaydev.com/gateway.do',
} as const;

/** alipay-sdk re-wraps the key body itself and needs to be told which wrapper: PKCS#1 or PKCS#8. */
export function privateKeyType(privateKey: string): 'PKCS1' | 'PKCS8' {
  if (privateKey.includes('BEGIN RSA PRIVATE KEY')) return 'PKCS1';
  if (privateKey.includes('BEGIN PRIVATE KEY')) return 'PKCS8';
  const der = Buffer.from(privateKey.replace(/\s+/g, ''), 'base64');
  try {
    createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    return 'PKCS8';
  } catch {
    return 'PKCS1';
  }
}

function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END)[^-]*-----/g, '').replace(/\s+/g, '');
}

/** Throws a TypeError naming the bad field; never echoes key material. */
export function checkCredentials(credentials: AlipayCredentials): void {
  if (!/^\d{8,32}$/.test(credentials.appId)) throw new TypeError('alipay: appId must be the numeric app id');
  let gateway: URL;
  try {
    gateway = new URL(credentials.gateway);
  } catch {
    throw new TypeError('alipay: gateway must be an absolute URL');
  }
  if (gateway.protocol !== 'https:' && gateway.protocol !== 'http:') throw new TypeError('alipay: gateway must be http(s)');
  const privateKey = credentials.privateKey.reveal();
  const type = privateKeyType(privateKey);
  try {
    createPrivateKey({ key: Buffer.from(pemBody(privateKey), 'base64'), format: 'der', type: type === 'PKCS8' ? 'pkcs8' : 'pkcs1' });
  } catch {
    throw new TypeError('alipay: privateKey is not an RSA private key');
  }
  try {
    createPublicKey({ key: Buffer.from(pemBody(credentials.alipayPublicKey), 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw new TypeError('alipay: alipayPublicKey is not an RSA public key');
  }
}
