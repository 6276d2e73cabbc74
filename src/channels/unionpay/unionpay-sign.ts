/**
 * ACP 5.1.0 signatures with signMethod=01 and the certificate checks UnionPay requires, on node:crypto
 * alone (the official SDKs' AcpService.sign / validate and CertUtil, ported).
 *
 *   sign:   sort every non-empty field except `signature` by key → `k=v&k=v` → hex(SHA-256) in lower
 *           case → SHA256withRSA over that hex string with the merchant's signing key → base64.
 *   verify: the answer carries its signing certificate (`signPubKeyCert`, PEM). It must be in its
 *           validity period, be issued by UnionPay's middle certificate which is issued by UnionPay's
 *           root, and its subject CN split by `@` must have `中国银联股份有限公司` in field [2] (the
 *           test environment's `00040000:SIGN` is accepted only when asked). Then the signature is
 *           checked the same way as it was made, with that certificate's public key.
 */
import { createHash, createSign, createVerify, X509Certificate, type KeyObject } from 'node:crypto';

/** Field [2] of a UnionPay signing certificate's CN, split by `@`. */
export const unionPayCnCompany = '中国银联股份有限公司';
/** The CN field [2] UnionPay's test environment uses instead. */
export const unionPayTestCnMarker = '00040000:SIGN';

/** `coverMap2String`: keys sorted, `signature` and empty values left out, `k=v` joined with `&`. */
export function signingString(fields: Readonly<Record<string, string>>): string {
  return Object.keys(fields)
    .filter((key) => key !== 'signature' && fields[key] !== undefined && fields[key] !== '')
    .sort()
    .map((key) => `${key}=${fields[key] ?? ''}`)
    .join('&');
}

/** The string that is actually RSA-signed: lower-case hex of SHA-256 over the signing string. */
export function signingDigestHex(fields: Readonly<Record<string, string>>): string {
  return createHash('sha256').update(signingString(fields), 'utf8').digest('hex');
}

export function signFields(fields: Readonly<Record<string, string>>, privateKey: KeyObject | string): string {
  return createSign('RSA-SHA256').update(signingDigestHex(fields), 'utf8').sign(privateKey, 'base64');
}

export function verifyFieldsSignature(fields: Readonly<Record<string, string>>, publicKey: KeyObject): boolean {
  const signature = fields['signature'];
  if (signature === undefined || signature === '') return false;
  try {
    return createVerify('RSA-SHA256').update(signingDigestHex(fields), 'utf8').verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

/** A certificate serial number (hex, as node prints it) as the decimal string ACP calls certId. */
export function certIdOf(certificate: X509Certificate): string {
  return BigInt(`0x${certificate.serialNumber}`).toString(10);
}

export interface UnionPayTrustAnchors {
  readonly root: X509Certificate;
  readonly middle: X509Certificate;
  /** Accept the test environment's `00040000:SIGN` CN marker as well as the company name. */
  readonly acceptTestCn: boolean;
}

export type CertificateCheck = { readonly ok: true; readonly certificate: X509Certificate } | { readonly ok: false; readonly reason: string };

function withinValidity(certificate: X509Certificate, now: Date): boolean {
  return certificate.validFromDate.getTime() <= now.getTime() && now.getTime() <= certificate.validToDate.getTime();
}

/** The CN of a subject as node prints it (one `KEY=value` per line). */
export function commonNameOf(certificate: X509Certificate): string | undefined {
  const match = /^CN=(.*)$/m.exec(certificate.subject);
  return match?.[1];
}

/** Checks a `signPubKeyCert` against the configured UnionPay middle and root certificates. */
export function checkSigningCertificate(pem: string, anchors: UnionPayTrustAnchors, now: Date): CertificateCheck {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    return { ok: false, reason: 'signPubKeyCert is not a certificate' };
  }
  const { root, middle } = anchors;
  if (!withinValidity(certificate, now)) return { ok: false, reason: 'signPubKeyCert is outside its validity period' };
  if (!withinValidity(middle, now) || !withinValidity(root, now)) return { ok: false, reason: 'the configured UnionPay CA certificates are outside their validity period' };
  if (!middle.checkIssued(root) || !middle.verify(root.publicKey)) return { ok: false, reason: 'the configured middle certificate is not issued by the configured root' };
  if (!certificate.checkIssued(middle) || !certificate.verify(middle.publicKey)) return { ok: false, reason: 'signPubKeyCert does not chain to the UnionPay root' };
  if (certificate.ca) return { ok: false, reason: 'signPubKeyCert is a CA certificate' };
  const company = commonNameOf(certificate)?.split('@')[2];
  const companyOk = company === unionPayCnCompany || (anchors.acceptTestCn && company === unionPayTestCnMarker);
  if (!companyOk) return { ok: false, reason: 'signPubKeyCert CN does not name China UnionPay' };
  return { ok: true, certificate };
}

export type MessageCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Verifies a whole answer or notification: certificate first, then the signature it carries. */
export function verifyMessage(fields: Readonly<Record<string, string>>, anchors: UnionPayTrustAnchors, now: Date): MessageCheck {
  const pem = fields['signPubKeyCert'];
  if (pem === undefined || pem === '') return { ok: false, reason: 'the message carries no signPubKeyCert' };
  const check = checkSigningCertificate(pem, anchors, now);
  if (!check.ok) return check;
  if (!verifyFieldsSignature(fields, check.certificate.publicKey)) return { ok: false, reason: 'the signature does not verify' };
  return { ok: true };
}
