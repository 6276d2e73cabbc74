import { describe, expect, it } from 'vitest';
import { cvcLength, detectBrand, luhnValid, normalizeCardNumber, type CardBrand } from './card-number.ts';

describe('normalizeCardNumber', () => {
  it('strips the spaces and dashes people type between digit groups', () => {
    expect(normalizeCardNumber('4242 4242 4242 4242')).toBe('4242424242424242');
    expect(normalizeCardNumber('4242-4242-4242-4242')).toBe('4242424242424242');
    expect(normalizeCardNumber(' 3782 822463 10005 ')).toBe('378282246310005');
  });

  it('refuses anything that is not made of digits', () => {
    expect(normalizeCardNumber('4242 4242 4242 424a')).toBeUndefined();
    expect(normalizeCardNumber('4242.4242.4242.4242')).toBeUndefined();
    expect(normalizeCardNumber('')).toBeUndefined();
    expect(normalizeCardNumber('   ')).toBeUndefined();
    // Full-width digits are not ASCII digits.
    expect(normalizeCardNumber('４２４２４２４２４２４２４２４２')).toBeUndefined();
  });

  it('accepts 12 to 19 digits and nothing shorter or longer', () => {
    expect(normalizeCardNumber('1'.repeat(11))).toBeUndefined();
    expect(normalizeCardNumber('1'.repeat(12))).toBe('1'.repeat(12));
    expect(normalizeCardNumber('1'.repeat(19))).toBe('1'.repeat(19));
    expect(normalizeCardNumber('1'.repeat(20))).toBeUndefined();
  });
});

describe('luhnValid', () => {
  it.each([
    '4242424242424242', '5555555555554444', '378282246310005', '3566002020360505', '6200000000000005',
    '6205500000000000004', '30569309025904', '4000002500003155', '79927398713',
  ])('accepts %s, whose check digit is right', (digits) => {
    expect(luhnValid(digits)).toBe(true);
  });

  it.each(['4242424242424241', '5555555555554445', '378282246310006', '79927398710'])(
    'refuses %s, whose check digit is wrong',
    (digits) => {
      expect(luhnValid(digits)).toBe(false);
    },
  );

  it('refuses input that is not only digits', () => {
    expect(luhnValid('4242 4242 4242 4242')).toBe(false);
    expect(luhnValid('')).toBe(false);
  });

  it('catches every single-digit typo in a valid number', () => {
    const valid = '4242424242424242';
    for (let i = 0; i < valid.length; i++) {
      for (let d = 0; d <= 9; d++) {
        if (String(d) === valid[i]) continue;
        const typo = valid.slice(0, i) + String(d) + valid.slice(i + 1);
        expect(luhnValid(typo), typo).toBe(false);
      }
    }
  });
});

describe('detectBrand', () => {
  const cases: [string, CardBrand][] = [
    ['4242424242424242', 'visa'],
    ['4000056655665556', 'visa'],
    ['5555555555554444', 'mastercard'],
    ['5105105105105100', 'mastercard'],
    ['2223003122003222', 'mastercard'],
    ['2221000000000009', 'mastercard'],
    ['2720990000000007', 'mastercard'],
    ['378282246310005', 'amex'],
    ['371449635398431', 'amex'],
    ['340000000000009', 'amex'],
    ['3566002020360505', 'jcb'],
    ['3530111333300000', 'jcb'],
    ['3528000000000007', 'jcb'],
    ['3589000000000003', 'jcb'],
    ['6200000000000005', 'unionpay'],
    ['6205500000000000004', 'unionpay'],
    ['8100000000000008', 'unionpay'],
    ['6011111111111117', 'discover'],
    ['6011000990139424', 'discover'],
    ['6440000000000000', 'discover'],
    ['6490000000000000', 'discover'],
    ['6555900000604105', 'discover'],
    ['3056930009020004', 'diners'],
    ['30000000000004', 'diners'],
    ['36227206271667', 'diners'],
    ['38520000023237', 'diners'],
    ['39000000000000', 'diners'],
  ];
  it.each(cases)('names %s as %s', (digits, brand) => {
    expect(detectBrand(digits)).toBe(brand);
  });

  it('gives UnionPay precedence over the Discover co-brand range 622126–622925', () => {
    expect(detectBrand('6221260000000000')).toBe('unionpay');
    expect(detectBrand('6229250000000000')).toBe('unionpay');
  });

  it('says unknown at the edges just outside each range', () => {
    for (const digits of ['2220990000000000', '2721000000000000', '5000000000000000', '5600000000000000', '3527000000000000', '3590000000000000', '3060000000000000', '6012000000000000', '6430000000000000', '1234567812345670', '9999999999999995']) {
      expect(detectBrand(digits), digits).toBe('unknown');
    }
  });

  it('says unknown for input that is not digits', () => {
    expect(detectBrand('4242 4242 4242 4242')).toBe('unknown');
    expect(detectBrand('')).toBe('unknown');
  });
});

describe('cvcLength', () => {
  it('is four digits for American Express and three for every other brand', () => {
    expect(cvcLength('amex')).toBe(4);
    for (const brand of ['visa', 'mastercard', 'jcb', 'unionpay', 'discover', 'diners', 'unknown'] as const) {
      expect(cvcLength(brand)).toBe(3);
    }
  });
});
