/**
 * Alipay's RSA2 signatures, written from the protocol rather than borrowed from alipay-sdk, so the
 * emulator checks the SDK instead of agreeing with it by construction.
 *
 * - Requests (rsaCheckV2): every parameter except `sign`, empty values skipped (Java
 *   `AlipaySignature.getSignCheckContentV2`), sorted by key, `k=v` joined with `&`, values raw.
 * - Responses: the exact raw JSON text of the `<method>_response` object, as emitted.
 * - Notifications and return URLs (rsaCheckV1): as requests, but without `sign_type` either.
 */
import { createSign, createVerify, generateKeyPairSync } from 'node:crypto';

export interface RsaKeyPair {
  /** PKCS#8 PEM. */
  readonly privateKey: string;
  /** SPKI PEM. */
  readonly publicKey: string;
}

export function generateRsaKeyPair(): RsaKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKey, publicKey };
}

/** The string Alipay signs over a parameter set. */
export function signContent(params: Readonly<Record<string, string>>, excluded: readonly string[]): string {
  return Object.keys(params)
    .filter((key) => !excluded.includes(key) && params[key] !== '')
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
}

export function rsa2Sign(content: string, privateKeyPem: string): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKeyPem, 'base64');
}

/** False for a wrong signature and for one that is not even base64 or not an RSA signature. */
export function rsa2Verify(content: string, signature: string, publicKeyPem: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKeyPem, signature, 'base64');
  } catch {
    return false;
  }
}

/** Request parameters as the gateway checks them: `sign_type` is part of the signed content. */
export function verifyRequestSignature(params: Readonly<Record<string, string>>, publicKeyPem: string): { readonly ok: boolean; readonly content: string } {
  const content = signContent(params, ['sign']);
  const signature = params.sign;
  return { ok: signature !== undefined && signature !== '' && rsa2Verify(content, signature, publicKeyPem), content };
}

/** Signs notification or return-URL parameters the way Alipay does (rsaCheckV1: without `sign_type`). */
export function signNotificationParams(params: Readonly<Record<string, string>>, privateKeyPem: string): string {
  return rsa2Sign(signContent(params, ['sign', 'sign_type']), privateKeyPem);
}

/**
 * The gateway's JSON answer: the `_response` object is serialized once, and those exact bytes are
 * signed and emitted. `corruptSignature` signs different bytes, for the bad-signature fault.
 */
export function signedResponseText(options: {
  readonly responseKey: string;
  readonly response: Readonly<Record<string, unknown>>;
  readonly privateKeyPem: string;
  readonly corruptSignature?: boolean;
}): string {
  const json = JSON.stringify(options.response);
  const signed = options.corruptSignature === true ? `${json} ` : json;
  const signature = rsa2Sign(signed, options.privateKeyPem);
  return `{"${options.responseKey}":${json},"sign":${JSON.stringify(signature)}}`;
}
