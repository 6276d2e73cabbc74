/**
 * WeChat Pay API v3 shapes, parsed field by field from `unknown`: a verified signature says who sent
 * an answer, not that it has the fields we need. A shape that does not parse is `undefined`, which
 * callers turn into "processing". Amounts are integer fen on the wire (JSON numbers) and bigint here.
 */
import type { AeadResource } from './wechat-pay-crypto.ts';

type Json = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Integer fen from a JSON number; a fraction, a negative or an unsafe integer is not an amount. */
export function fenFrom(value: unknown): bigint | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : undefined;
}

/** Fen to the JSON number WeChat expects; the kernel's amount limit keeps it far inside 2^53. */
export function fenToWire(amount: bigint): number {
  if (amount < 0n || amount > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('amount out of range for WeChat Pay');
  return Number(amount);
}

export interface ErrorAnswer {
  readonly code: string;
  readonly message: string;
}

export function parseError(body: unknown): ErrorAnswer | undefined {
  if (!isObject(body)) return undefined;
  const code = str(body.code);
  return code === undefined ? undefined : { code, message: str(body.message) ?? '' };
}

export interface PrepayAnswer {
  readonly codeUrl: string | undefined;
  readonly h5Url: string | undefined;
  readonly prepayId: string | undefined;
}

export function parsePrepay(body: unknown): PrepayAnswer | undefined {
  if (!isObject(body)) return undefined;
  return { codeUrl: str(body.code_url), h5Url: str(body.h5_url), prepayId: str(body.prepay_id) };
}

export interface TransactionAnswer {
  readonly appId: string | undefined;
  readonly mchId: string | undefined;
  readonly outTradeNo: string;
  readonly transactionId: string | undefined;
  readonly tradeType: string | undefined;
  readonly tradeState: string;
  readonly tradeStateDesc: string | undefined;
  readonly successTime: string | undefined;
  readonly total: bigint | undefined;
  readonly currency: string | undefined;
  readonly payerOpenId: string | undefined;
}

export function parseTransaction(body: unknown): TransactionAnswer | undefined {
  if (!isObject(body)) return undefined;
  const outTradeNo = str(body.out_trade_no);
  const tradeState = str(body.trade_state);
  if (outTradeNo === undefined || tradeState === undefined) return undefined;
  const amount = isObject(body.amount) ? body.amount : {};
  const payer = isObject(body.payer) ? body.payer : {};
  return {
    appId: str(body.appid),
    mchId: str(body.mchid),
    outTradeNo,
    transactionId: str(body.transaction_id),
    tradeType: str(body.trade_type),
    tradeState,
    tradeStateDesc: str(body.trade_state_desc),
    successTime: str(body.success_time),
    total: fenFrom(amount.total),
    currency: str(amount.currency),
    payerOpenId: str(payer.openid),
  };
}

export interface RefundAnswer {
  readonly mchId: string | undefined;
  readonly refundId: string | undefined;
  readonly outRefundNo: string;
  readonly outTradeNo: string | undefined;
  readonly transactionId: string | undefined;
  /** `status` in API answers, `refund_status` in notifications. */
  readonly status: string;
  readonly refund: bigint | undefined;
  readonly total: bigint | undefined;
  readonly currency: string | undefined;
}

export function parseRefund(body: unknown): RefundAnswer | undefined {
  if (!isObject(body)) return undefined;
  const outRefundNo = str(body.out_refund_no);
  const status = str(body.status) ?? str(body.refund_status);
  if (outRefundNo === undefined || status === undefined) return undefined;
  const amount = isObject(body.amount) ? body.amount : {};
  return {
    mchId: str(body.mchid),
    refundId: str(body.refund_id),
    outRefundNo,
    outTradeNo: str(body.out_trade_no),
    transactionId: str(body.transaction_id),
    status,
    refund: fenFrom(amount.refund),
    total: fenFrom(amount.total),
    currency: str(amount.currency),
  };
}

export interface CertificateEntry {
  readonly serialNo: string;
  readonly encrypted: AeadResource;
}

export function parseCertificateList(body: unknown): readonly CertificateEntry[] | undefined {
  if (!isObject(body) || !Array.isArray(body.data)) return undefined;
  const entries: CertificateEntry[] = [];
  for (const item of body.data as unknown[]) {
    if (!isObject(item) || !isObject(item.encrypt_certificate)) continue;
    const serialNo = str(item.serial_no);
    const enc = item.encrypt_certificate;
    const ciphertext = str(enc.ciphertext);
    const nonce = str(enc.nonce);
    if (serialNo === undefined || ciphertext === undefined || nonce === undefined || str(enc.algorithm) !== 'AEAD_AES_256_GCM') continue;
    entries.push({ serialNo, encrypted: { ciphertext, nonce, associatedData: str(enc.associated_data) ?? '' } });
  }
  return entries;
}

export interface NotificationEnvelope {
  readonly id: string;
  readonly eventType: string;
  readonly resourceType: string | undefined;
  readonly algorithm: string;
  readonly resource: AeadResource;
  readonly originalType: string | undefined;
}

export function parseNotificationEnvelope(body: unknown): NotificationEnvelope | undefined {
  if (!isObject(body) || !isObject(body.resource)) return undefined;
  const id = str(body.id);
  const eventType = str(body.event_type);
  const { resource } = body;
  const algorithm = str(resource.algorithm);
  const ciphertext = str(resource.ciphertext);
  const nonce = str(resource.nonce);
  if (id === undefined || eventType === undefined || algorithm === undefined || ciphertext === undefined || nonce === undefined) return undefined;
  return {
    id,
    eventType,
    resourceType: str(body.resource_type),
    algorithm,
    resource: { ciphertext, nonce, associatedData: str(resource.associated_data) ?? '' },
    originalType: str(resource.original_type),
  };
}

export interface TradeBillAnswer {
  readonly hashType: string;
  readonly hashValue: string;
  readonly downloadUrl: string;
}

export function parseTradeBill(body: unknown): TradeBillAnswer | undefined {
  if (!isObject(body)) return undefined;
  const hashType = str(body.hash_type);
  const hashValue = str(body.hash_value);
  const downloadUrl = str(body.download_url);
  return hashType === undefined || hashValue === undefined || downloadUrl === undefined ? undefined : { hashType, hashValue, downloadUrl };
}
