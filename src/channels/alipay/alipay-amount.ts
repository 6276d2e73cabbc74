/**
 * Alipay's amounts are yuan strings ("0.01", "100", "12.5"); Fenpay's are bigint fen. The only place
 * the two meet, converted with string and bigint arithmetic, never floats.
 */
import { formatMinor } from '../../kernel/index.ts';

/** Alipay's domestic OpenAPI settles in CNY only. */
export const alipayCurrency = 'cny';

const yuanPattern = /^(0|[1-9]\d{0,10})(?:\.(\d{1,2}))?$/;

/** "12.34" for 1234n. */
export function toYuan(fen: bigint): string {
  return formatMinor(fen, alipayCurrency);
}

/** 1234n for "12.34", "12.3" → 1230n, "12" → 1200n; undefined for anything else (negative, three decimals, "1e3", " 1"). */
export function parseYuan(text: unknown): bigint | undefined {
  if (typeof text !== 'string') return undefined;
  const match = yuanPattern.exec(text);
  if (!match) return undefined;
  return BigInt(match[1] ?? '0') * 100n + BigInt((match[2] ?? '').padEnd(2, '0'));
}
