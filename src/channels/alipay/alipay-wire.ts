/**
 * Alipay's answers as we read them: untrusted JSON objects, looked at field by field. alipay-sdk is
 * configured with `camelcase: false`, so the names here are Alipay's own (snake_case).
 */
export type AlipayBody = Readonly<Record<string, unknown>>;

export interface AlipayResult {
  readonly code: string;
  readonly msg: string | undefined;
  readonly subCode: string | undefined;
  readonly subMsg: string | undefined;
  readonly body: AlipayBody;
}

export function field(body: AlipayBody, key: string): string | undefined {
  const value = body[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The common part of every answer; undefined when the answer has no code at all (not Alipay's shape). */
export function readResult(body: unknown): AlipayResult | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const record = body as AlipayBody;
  const code = field(record, 'code');
  if (code === undefined) return undefined;
  return { code, msg: field(record, 'msg'), subCode: field(record, 'sub_code'), subMsg: field(record, 'sub_msg'), body: record };
}

/** Alipay's success code. */
export const codeSuccess = '10000';
/** Service unavailable: the call's effect is unknown. */
export const codeUnknown = '20000';
/** Business failure: the call was understood and refused; sub_code says why. */
export const codeBusinessFailed = '40004';
