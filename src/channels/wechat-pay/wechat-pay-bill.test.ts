import { describe, expect, it } from 'vitest';
import { parseTradeBill, yuanToFen } from './wechat-pay-bill.ts';

describe('yuanToFen', () => {
  it('turns yuan strings into fen without floats', () => {
    expect(yuanToFen('0.60')).toBe(60n);
    expect(yuanToFen('12.34')).toBe(1234n);
    expect(yuanToFen('5')).toBe(500n);
    expect(yuanToFen('0.1')).toBe(10n);
    expect(yuanToFen('-0.01')).toBe(-1n);
    expect(yuanToFen('0.01000')).toBe(1n);
    expect(yuanToFen('90071992547409.93')).toBe(9_007_199_254_740_993n);
  });

  it('refuses what is not an amount in fen', () => {
    for (const text of ['', 'abc', '1.234', '0.00500', '1e3', '1,00', '--1']) expect(yuanToFen(text), text).toBeUndefined();
  });
});

describe('parseTradeBill', () => {
  const csv = [
    '\uFEFF交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注',
    '`2019-07-25 08:35:41,`wx2421b1c4370ec43b,`10000100,`0,`,`4200000390201907253413546011,`ord_1,`oUpF8uMuAJO,`JSAPI,`SUCCESS,`OTHERS,`CNY,`1.00,`0.00,`0,`0,`0.00,`0.00,`,`,`Item,`,`0.01,`0.60%,`1.00,`0.00,`',
    '`2019-07-25 09:00:00,`wx2421b1c4370ec43b,`10000100,`0,`,`4200000390201907253413546011,`ord_1,`oUpF8uMuAJO,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50000000382019052709732678859,`re_1,`0.40,`0.00,`ORIGINAL,`SUCCESS,`Item,`,`0.00,`0.60%,`0.00,`0.40,`',
    '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
    '`2,`1.00,`0.40,`0.00,`0.01000,`1.00,`0.40',
    '',
  ].join('\r\n');

  it('reads rows by column name, strips backticks and turns amounts into fen', () => {
    const bill = parseTradeBill(csv);
    expect(bill?.rows.map((row) => [row.tradeState, row.outTradeNo, row.settlementAmount, row.refundAmount, row.fee, row.outRefundNo, row.refundStatus])).toEqual([
      ['SUCCESS', 'ord_1', 100n, 0n, 1n, '0', ''],
      ['REFUND', 'ord_1', 0n, 40n, 0n, 're_1', 'SUCCESS'],
    ]);
    expect(bill?.rows[0]?.columns['费率']).toBe('0.60%');
    expect(bill?.summary).toEqual({ tradeCount: 2, settlementTotal: 100n, refundTotal: 40n, feeTotal: 1n, orderTotal: 100n });
  });

  it('refuses a file that is not a trade bill', () => {
    expect(parseTradeBill('hello')).toBeUndefined();
    expect(parseTradeBill(csv.replace('`1.00,`0.00,`0,`0', '`1.0x,`0.00,`0,`0'))).toBeUndefined();
    expect(parseTradeBill(csv.split('总交易单数')[0] ?? '')).toBeUndefined();
  });
});
