import { describe, expect, it } from 'vitest';
import { parseYuan, toYuan } from './alipay-amount.ts';

describe('yuan strings', () => {
  it('formats fen as Alipay yuan strings without floats', () => {
    expect(toYuan(1n)).toBe('0.01');
    expect(toYuan(10n)).toBe('0.10');
    expect(toYuan(1_234n)).toBe('12.34');
    expect(toYuan(10_000_000_000n)).toBe('100000000.00');
    // A float would print 0.30000000000000004 somewhere along the way; bigint cannot.
    expect(toYuan(10n + 20n)).toBe('0.30');
  });

  it('parses every form Alipay writes back', () => {
    expect(parseYuan('0.01')).toBe(1n);
    expect(parseYuan('12.34')).toBe(1_234n);
    expect(parseYuan('12.3')).toBe(1_230n);
    expect(parseYuan('12')).toBe(1_200n);
    expect(parseYuan('0')).toBe(0n);
    expect(parseYuan('99999999.99')).toBe(9_999_999_999n);
  });

  it('refuses anything that is not a plain yuan amount', () => {
    for (const bad of ['', ' 1', '1 ', '-1.00', '1.234', '1e3', '01.00', '.5', '1.', '0x10', '１２', 'NaN', '1,00']) expect(parseYuan(bad), bad).toBeUndefined();
    expect(parseYuan(12.34)).toBeUndefined();
    expect(parseYuan(undefined)).toBeUndefined();
  });

  it('round-trips every amount it formats', () => {
    for (const fen of [1n, 9n, 10n, 99n, 100n, 101n, 123_456_789n]) expect(parseYuan(toYuan(fen))).toBe(fen);
  });
});
