/**
 * The only file of the WeChat Pay channel that does network I/O. It signs every request, verifies
 * every answer (public-key or platform-certificate mode) and hands back either a verified answer or
 * "unknown": a timeout, a dropped connection, an unsigned or badly signed answer, a signature-test
 * probe. Callers never see an answer WeChat did not sign, so they can never trust one.
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import type { WechatPayKeys } from './wechat-pay-credentials.ts';
import {
  answerMessage,
  authorizationHeader,
  decryptAeadAes256Gcm,
  newNonce,
  signatureTestPrefix,
  signatureWindowSeconds,
  verifySha256WithRsa,
} from './wechat-pay-crypto.ts';
import { parseCertificateList } from './wechat-pay-wire.ts';

export type WechatPayAnswer =
  /** A signed, verified answer. `body` is the parsed JSON, or undefined for an empty body (204). */
  | { readonly kind: 'answer'; readonly status: number; readonly body: unknown; readonly requestId: string | undefined }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface SignedHeaders {
  readonly timestamp: string | undefined;
  readonly nonce: string | undefined;
  readonly signature: string | undefined;
  readonly serial: string | undefined;
}

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface WechatPayClientOptions {
  readonly keys: WechatPayKeys;
  readonly timeoutMs: number;
  readonly now: () => Date;
  readonly fetch: typeof fetch;
  /** At most one certificate download per this interval when an unknown serial shows up. */
  readonly certificateRefreshMinIntervalMs: number;
}

interface PlatformCertificate {
  readonly serial: string;
  readonly key: KeyObject;
  readonly validFrom: Date;
  readonly validTo: Date;
}

type RawAnswer =
  | { readonly kind: 'raw'; readonly status: number; readonly headers: Headers; readonly bytes: Buffer }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface WechatPayClient {
  /** A signed API call with a verified answer. `pathAndQuery` is relative to the base URL, e.g. `/v3/refund/domestic/refunds`. */
  call(method: 'GET' | 'POST', pathAndQuery: string, body?: unknown): Promise<WechatPayAnswer>;
  /** Checks Wechatpay-* signature headers over a raw body (answers and notifications alike). */
  verifySignature(headers: SignedHeaders, body: string): Promise<SignatureCheck>;
  /** A signed GET of an absolute URL on the base host whose answer WeChat does not sign (bill downloads). */
  download(url: string): Promise<{ readonly kind: 'file'; readonly bytes: Buffer } | { readonly kind: 'unknown'; readonly reason: string }>;
  readonly apiV3Key: () => string;
}

function describeError(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'WeChat Pay did not answer in time';
  const cause = error instanceof Error && typeof error.cause === 'object' && error.cause !== null && 'code' in error.cause ? String(error.cause.code) : undefined;
  const name = error instanceof Error ? error.name : typeof error;
  return cause === undefined ? `WeChat Pay call failed (${name})` : `WeChat Pay call failed (${name} ${cause})`;
}

export function createWechatPayClient(options: WechatPayClientOptions): WechatPayClient {
  const { keys } = options;
  let certificates = new Map<string, PlatformCertificate>();
  let lastRefreshAtMs = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<void> | undefined;

  async function send(method: 'GET' | 'POST', url: URL, body: string | undefined): Promise<RawAnswer> {
    const timestamp = Math.floor(options.now().getTime() / 1000);
    const authorization = authorizationHeader(
      { method, canonicalUrl: url.pathname + url.search, timestamp, nonce: newNonce(), body: body ?? '' },
      { mchId: keys.mchId, serialNo: keys.merchantSerialNo, privateKey: keys.privateKey },
    );
    const headers: Record<string, string> = { Accept: 'application/json', Authorization: authorization, 'User-Agent': 'fenpay-wechatpay/1' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (keys.verification.mode === 'public_key') headers['Wechatpay-Serial'] = keys.verification.publicKeyId;
    try {
      const response = await options.fetch(url, { method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(options.timeoutMs) });
      const bytes = Buffer.from(await response.arrayBuffer());
      return { kind: 'raw', status: response.status, headers: response.headers, bytes };
    } catch (error) {
      return { kind: 'unknown', reason: describeError(error) };
    }
  }

  function urlFor(pathAndQuery: string): URL {
    return new URL(keys.baseUrl + pathAndQuery);
  }

  function checkSignature(headers: SignedHeaders, body: string, keyFor: (serial: string) => KeyObject | undefined): SignatureCheck {
    const { timestamp, nonce, signature, serial } = headers;
    if (timestamp === undefined || nonce === undefined || signature === undefined || serial === undefined) return { ok: false, reason: 'the answer is not signed' };
    if (signature.startsWith(signatureTestPrefix)) return { ok: false, reason: 'a WeChat Pay signature-test probe' };
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'the signature timestamp is malformed' };
    const skewSeconds = Math.abs(Math.floor(options.now().getTime() / 1000) - Number(timestamp));
    if (skewSeconds >= signatureWindowSeconds) return { ok: false, reason: 'the signature timestamp is outside the 5-minute window' };
    const key = keyFor(serial);
    if (key === undefined) return { ok: false, reason: `no WeChat Pay key for serial ${serial}` };
    return verifySha256WithRsa(answerMessage(timestamp, nonce, body), signature, key) ? { ok: true } : { ok: false, reason: 'the signature does not verify' };
  }

  function knownKey(serial: string): KeyObject | undefined {
    const { verification } = keys;
    if (verification.mode === 'public_key') return serial === verification.publicKeyId ? verification.publicKey : undefined;
    const certificate = certificates.get(serial.toUpperCase());
    if (certificate === undefined) return undefined;
    const now = options.now();
    return now >= certificate.validFrom && now <= certificate.validTo ? certificate.key : undefined;
  }

  /**
   * GET /v3/certificates: decrypt each certificate with the APIv3 key (only WeChat and we know it),
   * check that its serial and validity are what the list claims, then verify the list's own signature
   * with one of the certificates it carries. Anything less keeps the old set.
   */
  async function downloadCertificates(): Promise<void> {
    const raw = await send('GET', urlFor('/v3/certificates'), undefined);
    if (raw.kind !== 'raw' || raw.status !== 200) return;
    const text = raw.bytes.toString('utf8');
    let list: ReturnType<typeof parseCertificateList>;
    try {
      list = parseCertificateList(JSON.parse(text));
    } catch {
      return;
    }
    if (list === undefined) return;
    const fresh = new Map<string, PlatformCertificate>();
    for (const entry of list) {
      const pem = decryptAeadAes256Gcm(entry.encrypted, keys.apiV3Key.reveal());
      if (pem === undefined) continue;
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(pem);
      } catch {
        continue;
      }
      if (certificate.serialNumber.toUpperCase() !== entry.serialNo.toUpperCase()) continue;
      fresh.set(entry.serialNo.toUpperCase(), {
        serial: entry.serialNo.toUpperCase(),
        key: certificate.publicKey,
        validFrom: new Date(certificate.validFrom),
        validTo: new Date(certificate.validTo),
      });
    }
    const verified = checkSignature(signedHeadersOf(raw.headers), text, (serial) => fresh.get(serial.toUpperCase())?.key);
    if (verified.ok) certificates = fresh;
  }

  async function refreshCertificates(): Promise<void> {
    const nowMs = Date.now();
    if (refreshing !== undefined) return await refreshing;
    if (nowMs - lastRefreshAtMs < options.certificateRefreshMinIntervalMs) return;
    lastRefreshAtMs = nowMs;
    refreshing = downloadCertificates().finally(() => {
      refreshing = undefined;
    });
    await refreshing;
  }

  async function verifySignature(headers: SignedHeaders, body: string): Promise<SignatureCheck> {
    const first = checkSignature(headers, body, knownKey);
    // Only an unknown serial is worth a certificate download; a bad signature stays bad.
    if (first.ok || keys.verification.mode !== 'platform_certificate' || headers.serial === undefined || knownKey(headers.serial) !== undefined) return first;
    if (headers.signature?.startsWith(signatureTestPrefix) === true) return first;
    await refreshCertificates();
    return checkSignature(headers, body, knownKey);
  }

  return {
    apiV3Key: () => keys.apiV3Key.reveal(),
    verifySignature,

    async call(method, pathAndQuery, body) {
      const raw = await send(method, urlFor(pathAndQuery), body === undefined ? undefined : JSON.stringify(body));
      if (raw.kind === 'unknown') return raw;
      const text = raw.bytes.toString('utf8');
      const verified = await verifySignature(signedHeadersOf(raw.headers), text);
      if (!verified.ok) return { kind: 'unknown', reason: `HTTP ${raw.status} answer not trusted: ${verified.reason}` };
      let parsed: unknown;
      if (text.length > 0) {
        try {
          parsed = JSON.parse(text);
        } catch {
          return { kind: 'unknown', reason: `HTTP ${raw.status} answer is not JSON` };
        }
      }
      return { kind: 'answer', status: raw.status, body: parsed, requestId: raw.headers.get('request-id') ?? undefined };
    },

    async download(url) {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        return { kind: 'unknown', reason: 'the download URL is malformed' };
      }
      // The download request carries our signature: never send it to a host that is not WeChat's.
      if (target.origin !== new URL(keys.baseUrl).origin) return { kind: 'unknown', reason: 'the download URL is not on the WeChat Pay host' };
      const raw = await send('GET', target, undefined);
      if (raw.kind === 'unknown') return raw;
      if (raw.status !== 200) return { kind: 'unknown', reason: `the download answered HTTP ${raw.status}` };
      return { kind: 'file', bytes: raw.bytes };
    },
  };
}

export function signedHeadersOf(headers: Headers | Readonly<Record<string, string | undefined>>): SignedHeaders {
  const get = (name: string): string | undefined => (headers instanceof Headers ? (headers.get(name) ?? undefined) : headers[name]);
  return {
    timestamp: get('wechatpay-timestamp'),
    nonce: get('wechatpay-nonce'),
    signature: get('wechatpay-signature'),
    serial: get('wechatpay-serial'),
  };
}

export function sha1Hex(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}
