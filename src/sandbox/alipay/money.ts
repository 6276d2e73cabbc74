/**
 * Alipay's amounts are yuan strings with at most two decimals ("0.01", "100", "12.5"). The emulator
 * keeps fen as bigint and converts only at its wire, without floating point.
 */
import { formatMinor } from '../../kernel/index.ts';

const yuanPattern = /^(0|[1-9]\d{0,10})(?:\.(\d{1,2}))?$/;

/** Fen from a yuan string, or undefined for anything Alipay would reject as malformed. */
export function parseYuan(text: string): bigint | undefined {
  const match = yuanPattern.exec(text);
  if (!match) return undefined;
  const whole = BigInt(match[1] ?? '0');
  const fraction = BigInt((match[2] ?? '').padEnd(2, '0'));
  return whole * 100n + fraction;
}

/** "12.34" from 1234 fen. */
export function formatYuan(fen: bigint): string {
  return formatMinor(fen, 'cny');
}

/** Alipay's single-trade limit: 0.01 to 100,000,000.00 yuan. */
export const tradeAmountMinFen = 1n;
export const tradeAmountMaxFen = 10_000_000_000n;
