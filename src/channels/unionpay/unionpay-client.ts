/**
 * The only file of the UnionPay adapter that does network I/O. It signs a request, POSTs it as a
 * form, parses ACP's raw `k=v&…` answer and verifies it. Anything short of a verified answer — a
 * timeout, a refused connection, a 5xx, a body we cannot parse, a certificate that does not chain to
 * UnionPay's root, a bad signature — is `unknown`: the request may or may not have been acted on.
 */
import type { ResolvedCredentials } from './unionpay-credentials.ts';
import { signFields, verifyMessage } from './unionpay-sign.ts';
import { encodeForm, parseAnswer, type AcpFields } from './unionpay-wire.ts';

export type AcpAnswer = { readonly kind: 'verified'; readonly fields: AcpFields } | { readonly kind: 'unknown'; readonly reason: string };

export interface AcpClientOptions {
  readonly timeoutMs: number;
  readonly now: () => Date;
}

/** Adds merId, certId and the signature to the business fields. */
export function signRequest(credentials: ResolvedCredentials, fields: AcpFields): Record<string, string> {
  const withIdentity: Record<string, string> = { ...fields, merId: credentials.merId, certId: credentials.certId };
  return { ...withIdentity, signature: signFields(withIdentity, credentials.signingKey) };
}

export async function postAcp(credentials: ResolvedCredentials, url: string, fields: AcpFields, options: AcpClientOptions): Promise<AcpAnswer> {
  const signed = signRequest(credentials, fields);
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', accept: 'text/plain' },
      body: encodeForm(signed),
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: 'error',
    });
    text = await response.text();
  } catch (error) {
    const name = error instanceof Error ? error.name : 'error';
    return { kind: 'unknown', reason: name === 'TimeoutError' ? 'unionpay_timeout' : 'unionpay_unreachable' };
  }
  if (response.status !== 200) return { kind: 'unknown', reason: `unionpay_http_${response.status}` };
  const answer = parseAnswer(text.trim());
  if (answer === undefined || answer['respCode'] === undefined) return { kind: 'unknown', reason: 'unionpay_unparseable_answer' };
  // 签名失败 answers from UnionPay itself may be unsigned; they are still not something we can trust.
  const check = verifyMessage(answer, credentials.anchors, options.now());
  if (!check.ok) return { kind: 'unknown', reason: `unionpay_unverifiable_answer: ${check.reason}` };
  // An answer about another merchant or order is not an answer to this request.
  if (answer['merId'] !== undefined && answer['merId'] !== credentials.merId) return { kind: 'unknown', reason: 'unionpay_answer_for_another_merchant' };
  if (answer['orderId'] !== undefined && fields['orderId'] !== undefined && answer['orderId'] !== fields['orderId']) {
    return { kind: 'unknown', reason: 'unionpay_answer_for_another_order' };
  }
  return { kind: 'verified', fields: answer };
}
