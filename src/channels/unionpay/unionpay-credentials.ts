/**
 * What the UnionPay adapter needs for one mode. The merchant signing key is a Secret; the CA
 * certificates and URLs are public. Checked once, when the adapter is made, so a bad PEM is a boot
 * error rather than a payment that fails at 3 a.m.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { assert, Secret } from '../../kernel/index.ts';
import type { UnionPayTrustAnchors } from './unionpay-sign.ts';

/** UnionPay's production gateway (channels-cn.md §5.1). */
export const unionPayLiveBaseUrl = 'https://gateway.95516.com/gateway/api';

export interface UnionPayCredentials {
  /** 15-digit merchant number. */
  readonly merId: string;
  /** The merchant signing certificate's private key, PKCS#8 or PKCS#1 PEM (what the PFX holds). */
  readonly signCertPrivateKey: Secret<string>;
  /** The merchant signing certificate's serial number in decimal (ACP `certId`). */
  readonly signCertId: string;
  /** UnionPay's root and middle CA certificates (acp_prod_root.cer / acp_prod_middle.cer), PEM. */
  readonly rootCertPem: string;
  readonly middleCertPem: string;
  /** Either a base URL (…/gateway/api) or the three endpoints one by one. */
  readonly baseUrl?: string;
  readonly frontTransUrl?: string;
  readonly backTransUrl?: string;
  readonly singleQueryUrl?: string;
  /** Also trust the test environment's `00040000:SIGN` CN marker (never set it for live mode). */
  readonly acceptTestCn?: boolean;
}

export interface ResolvedCredentials {
  readonly merId: string;
  readonly signingKey: KeyObject;
  readonly certId: string;
  readonly anchors: UnionPayTrustAnchors;
  readonly frontTransUrl: string;
  readonly backTransUrl: string;
  readonly singleQueryUrl: string;
}

function endpoint(explicit: string | undefined, base: string | undefined, path: string, name: string): string {
  const url = explicit ?? (base === undefined ? undefined : `${base.replace(/\/+$/, '')}/${path}`);
  assert(url !== undefined, `UnionPay credentials need ${name} or baseUrl`);
  const parsed = new URL(url);
  assert(parsed.protocol === 'https:' || parsed.protocol === 'http:', `UnionPay ${name} must be an http(s) URL`);
  return parsed.toString();
}

export function resolveCredentials(credentials: UnionPayCredentials, mode: 'test' | 'live'): ResolvedCredentials {
  assert(/^\d{15}$/.test(credentials.merId), 'UnionPay merId must be 15 digits');
  assert(/^\d{1,40}$/.test(credentials.signCertId), 'UnionPay signCertId must be the decimal serial number');
  assert(!(mode === 'live' && credentials.acceptTestCn === true), 'the test CN marker must not be trusted in live mode');
  const signingKey = createPrivateKey(credentials.signCertPrivateKey.reveal());
  assert(signingKey.asymmetricKeyType === 'rsa', 'the UnionPay signing key must be RSA (signMethod 01)');
  return {
    merId: credentials.merId,
    signingKey,
    certId: credentials.signCertId,
    anchors: {
      root: new X509Certificate(credentials.rootCertPem),
      middle: new X509Certificate(credentials.middleCertPem),
      acceptTestCn: credentials.acceptTestCn ?? false,
    },
    frontTransUrl: endpoint(credentials.frontTransUrl, credentials.baseUrl, 'frontTransReq.do', 'frontTransUrl'),
    backTransUrl: endpoint(credentials.backTransUrl, credentials.baseUrl, 'backTransReq.do', 'backTransUrl'),
    singleQueryUrl: endpoint(credentials.singleQueryUrl, credentials.baseUrl, 'queryTrans.do', 'singleQueryUrl'),
  };
}
