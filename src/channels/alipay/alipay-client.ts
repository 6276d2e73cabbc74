/**
 * The only file that talks to Alipay: alipay-sdk with response signatures verified
 * (`validateSign: true`) and Alipay's own field names (`camelcase: false`). Every thrown error (a
 * timeout, a refused connection, a 5xx, a body that is not JSON, a signature that does not verify)
 * comes back as `unknown`, with a reason that names the error class but never echoes response bodies.
 */
import { AlipaySdk } from 'alipay-sdk';
import { AssertionError } from '../../kernel/index.ts';
import { privateKeyType, type AlipayCredentials } from './alipay-credentials.ts';
import { readResult } from './alipay-wire.ts';
import type { AlipayCall, BizContent } from './alipay-transform.ts';

export interface AlipayClient {
  /** A server-to-server OpenAPI call. */
  call(method: string, biz: BizContent, extra?: { readonly notifyUrl?: string | undefined }): Promise<AlipayCall>;
  /** A signed GET URL for a page method (page pay, WAP pay); no network call. */
  pageUrl(method: string, biz: BizContent, extra: { readonly notifyUrl: string | undefined; readonly returnUrl: string | undefined }): string;
  /** The signed order string the Alipay app SDK takes; no network call. */
  orderString(method: string, biz: BizContent, extra: { readonly notifyUrl: string | undefined }): string;
  /** Alipay's notification signature check (rsaCheckV1/V2, raw values: checkNotifySignV2). */
  verifyNotification(fields: Readonly<Record<string, string>>): boolean;
}

/** Why a call is unknown, from the error's class and code (a message can carry response bodies). */
function codeOf(error: Error): string {
  const code: unknown = (error as Error & { code?: unknown }).code;
  return typeof code === 'string' ? ` ${code}` : '';
}

export function reasonFromError(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const cause = error.cause instanceof Error ? ` (${error.cause.name}${codeOf(error.cause)})` : '';
  const status = /status: (\d{3})/.exec(error.message)?.[1];
  const kind = error.message.includes('验签失败') ? ' response signature did not verify' : status !== undefined ? ` HTTP ${status}` : '';
  return `${error.name}${codeOf(error)}${kind}${cause}`;
}

export function createAlipayClient(credentials: AlipayCredentials, timeoutMs: number): AlipayClient {
  const privateKey = credentials.privateKey.reveal();
  const sdk = new AlipaySdk({
    appId: credentials.appId,
    privateKey,
    keyType: privateKeyType(privateKey),
    alipayPublicKey: credentials.alipayPublicKey,
    gateway: credentials.gateway,
    signType: 'RSA2',
    timeout: timeoutMs,
    camelcase: false,
  });

  function common(extra: { readonly notifyUrl?: string | undefined; readonly returnUrl?: string | undefined } | undefined): Record<string, string> {
    // alipay-sdk signs and sends an undefined value as "undefined": only defined ones go in.
    const params: Record<string, string> = {};
    if (extra?.notifyUrl !== undefined && extra.notifyUrl !== '') params.notifyUrl = extra.notifyUrl;
    if (extra?.returnUrl !== undefined && extra.returnUrl !== '') params.returnUrl = extra.returnUrl;
    return params;
  }

  return {
    async call(method, biz, extra) {
      try {
        const body: unknown = await sdk.exec(method, { bizContent: biz, ...common(extra) }, { validateSign: true });
        const result = readResult(body);
        return result === undefined ? { kind: 'unknown', reason: 'alipay answered without a code' } : { kind: 'answer', result };
      } catch (error) {
        if (error instanceof AssertionError) throw error;
        return { kind: 'unknown', reason: reasonFromError(error) };
      }
    },
    pageUrl(method, biz, extra) {
      return sdk.pageExec(method, 'GET', { bizContent: biz, ...common(extra) });
    },
    orderString(method, biz, extra) {
      return sdk.sdkExecute(method, { bizContent: biz, ...common(extra) });
    },
    verifyNotification(fields) {
      try {
        return sdk.checkNotifySignV2({ ...fields });
      } catch {
        return false;
      }
    },
  };
}
