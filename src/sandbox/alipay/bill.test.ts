import { describe, expect, it } from 'vitest';
import { buildTradeBill } from './bill.ts';
import { decodeGbk, encodeGbk } from './gbk.ts';
import { formatYuan, parseYuan } from './money.ts';
import { beijingDate, beijingDateTime, beijingDayStart, parseBeijingDateTime } from './time.ts';
import type { Trade } from './trades.ts';
import { readZip, writeZip } from './zip.ts';

function trade(fields: Partial<Trade>): Trade {
  return {
    outTradeNo: 'o_1',
    tradeNo: '2024010122001400000000000001',
    token: 't',
    product: 'precreate',
    subject: '咖啡, "大杯"',
    body: undefined,
    totalAmount: 10_000n,
    createdAt: new Date('2024-01-01T01:00:00Z'),
    expiresAt: undefined,
    notifyUrl: undefined,
    returnUrl: undefined,
    quitUrl: undefined,
    passbackParams: undefined,
    status: 'TRADE_SUCCESS',
    visible: true,
    paidAt: new Date('2024-01-01T01:01:00Z'),
    closedAt: undefined,
    buyerId: '2088',
    buyerLogonId: 'b***@x',
    refunds: [],
    ...fields,
  };
}

describe('money and time on the emulator wire', () => {
  it('converts yuan strings exactly', () => {
    expect(parseYuan('0.01')).toBe(1n);
    expect(parseYuan('100')).toBe(10_000n);
    expect(parseYuan('1.5')).toBe(150n);
    expect(parseYuan('1.005')).toBeUndefined();
    expect(parseYuan('-1')).toBeUndefined();
    expect(formatYuan(-53n)).toBe('-0.53');
  });

  it('speaks Beijing time and refuses dates that do not exist', () => {
    const instant = new Date('2024-02-29T16:30:00Z');
    expect(beijingDateTime(instant)).toBe('2024-03-01 00:30:00');
    expect(beijingDate(instant)).toBe('2024-03-01');
    expect(parseBeijingDateTime('2024-03-01 00:30:00')?.toISOString()).toBe(instant.toISOString());
    expect(parseBeijingDateTime('2023-02-29 00:00:00')).toBeUndefined();
    expect(parseBeijingDateTime('2024-03-01T00:30:00')).toBeUndefined();
    expect(beijingDayStart('2024-03-01')?.toISOString()).toBe('2024-02-29T16:00:00.000Z');
  });
});

describe('GBK and zip', () => {
  it('encodes GBK that decodes back, with ? for what GBK cannot hold', () => {
    const text = '#支付宝业务明细查询,退款批次号/请求号（元）abc';
    const bytes = encodeGbk(text);
    expect(bytes.length).toBeLessThan(Buffer.byteLength(text, 'utf8'));
    expect([...encodeGbk('中')]).toEqual([0xd6, 0xd0]);
    expect(decodeGbk(bytes)).toBe(text);
    expect(decodeGbk(encodeGbk('a😀b'))).toBe('a?b');
  });

  it('writes archives it and CRC checks can read back', () => {
    const entries = [
      { name: encodeGbk('一.csv'), data: Buffer.from('x'.repeat(1000)) },
      { name: Buffer.from('b.csv'), data: Buffer.alloc(0) },
    ];
    const archive = writeZip(entries, new Date('2024-01-01T00:00:00Z'));
    const back = readZip(archive);
    expect(back.map((e) => decodeGbk(e.name))).toEqual(['一.csv', 'b.csv']);
    expect(back[0]!.data.toString()).toBe('x'.repeat(1000));
    const corrupted = Buffer.from(archive);
    corrupted.writeUInt32LE(0, archive.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 16);
    expect(() => readZip(corrupted)).toThrow(/CRC/);
  });
});

describe('trade bill', () => {
  it('lists the day’s payments and refunds with fees, totals and Alipay’s header and footer', () => {
    const paid = trade({
      refunds: [
        { outRequestNo: 'r_1', amount: 2_500n, refundedAt: new Date('2024-01-01T02:00:00Z'), reason: undefined },
        { outRequestNo: 'r_2', amount: 100n, refundedAt: new Date('2024-01-02T02:00:00Z'), reason: undefined },
      ],
    });
    const otherDay = trade({ outTradeNo: 'o_2', tradeNo: 't_2', paidAt: new Date('2024-01-01T17:00:00Z') });
    const unpaid = trade({ outTradeNo: 'o_3', tradeNo: 't_3', paidAt: undefined, status: 'WAIT_BUYER_PAY' });
    const bill = buildTradeBill({ pid: '2088000000000001', billDate: '2024-01-01', trades: [paid, otherDay, unpaid], exportedAt: new Date('2024-01-02T02:00:00Z'), feeBps: 60n });
    expect(bill.fileName).toBe('20880000000000010156_20240101.csv.zip');
    const lines = bill.detail.split('\r\n');
    expect(lines.slice(0, 3)).toEqual(['#支付宝业务明细查询', '#账号：[20880000000000010156]', '#起始日期：[2024年01月01日 00:00:00]   终止日期：[2024年01月02日 00:00:00]']);
    const rows = lines.filter((l) => !l.startsWith('#') && l !== '').map((l) => l.split('\t,'));
    expect(rows).toHaveLength(3);
    expect(rows[0]![0]).toBe('支付宝交易号');
    expect(rows[1]!.slice(0, 4)).toEqual(['2024010122001400000000000001', 'o_1', '交易', '"咖啡, ""大杯"""']);
    expect(rows[1]![22]).toBe('-0.60');
    expect(rows[2]!.slice(2, 3)).toEqual(['退款']);
    expect(rows[2]![12]).toBe('-25.00');
    expect(rows[2]![21]).toBe('r_1');
    expect(rows[2]![22]).toBe('0.15');
    expect(bill.detail).toContain('#交易合计：1笔，商家实收共100.00元，商家优惠共0.00元');
    expect(bill.detail).toContain('#退款合计：1笔，商家实收共-25.00元，商家优惠共0.00元');
    expect(bill.summary).toContain('合计\t,\t,1\t,1\t,100.00\t,75.00\t,0.00\t,0.00\t,0.00\t,-0.45\t,0.00\t,74.55\t');
    const [detail, summary] = readZip(bill.zip);
    expect(decodeGbk(detail!.data)).toBe(bill.detail);
    expect(decodeGbk(summary!.name)).toBe('20880000000000010156_20240101_业务明细(汇总).csv');
  });
});
