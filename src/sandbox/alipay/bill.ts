/**
 * The daily trade bill (`bill_type=trade`) in Alipay's layout (channels-cn.md 6.1): a zip named
 * `{pid}0156_{yyyyMMdd}.csv.zip` holding two GBK CSVs, `…_业务明细.csv` (one row per payment and per
 * refund, refunds matched by 退款批次号/请求号 = out_request_no) and `…_业务明细(汇总).csv`.
 * Fields are followed by a tab, as in Alipay's files. Amounts are yuan; refunds are negative.
 */
import { feeForRate } from '../../kernel/index.ts';
import { encodeGbk } from './gbk.ts';
import { formatYuan } from './money.ts';
import { beijingBillDateTime, beijingDate, beijingDateTime } from './time.ts';
import type { Trade } from './trades.ts';
import { writeZip } from './zip.ts';

export const detailColumns = [
  '支付宝交易号', '商户订单号', '业务类型', '商品名称', '创建时间', '完成时间', '门店编号', '门店名称', '操作员', '终端号', '对方账户',
  '订单金额（元）', '商家实收（元）', '支付宝红包（元）', '集分宝（元）', '支付宝优惠（元）', '商家优惠（元）', '券核销金额（元）', '券名称',
  '商家红包消费金额（元）', '卡消费金额（元）', '退款批次号/请求号', '服务费（元）', '分润（元）', '备注',
] as const;

export const summaryColumns = [
  '门店编号', '门店名称', '交易订单总笔数', '退款订单总笔数', '订单金额（元）', '商家实收（元）', '支付宝优惠（元）', '商家优惠（元）',
  '卡消费金额（元）', '服务费（元）', '分润（元）', '实收净额（元）',
] as const;

export interface TradeBillOptions {
  /** The merchant's Alipay partner id (2088…). */
  readonly pid: string;
  /** The Beijing calendar day, "yyyy-MM-dd". */
  readonly billDate: string;
  readonly trades: readonly Trade[];
  readonly exportedAt: Date;
  /** Alipay's service fee in basis points (0.6% = 60), charged on payments and returned pro rata on refunds. */
  readonly feeBps: bigint;
}

export interface TradeBill {
  readonly fileName: string;
  readonly zip: Buffer;
  /** The two CSVs as text, for tests and humans; the zip holds them GBK-encoded. */
  readonly detailName: string;
  readonly detail: string;
  readonly summaryName: string;
  readonly summary: string;
}

function csvField(value: string): string {
  const quoted = /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
  return `${quoted}\t`;
}

function csvRow(values: readonly string[]): string {
  return values.map(csvField).join(',');
}

const zero = '0.00';

function negate(amount: bigint): string {
  return amount === 0n ? zero : formatYuan(-amount);
}

export function buildTradeBill(options: TradeBillOptions): TradeBill {
  const day = options.billDate;
  const compact = day.replaceAll('-', '');
  const account = `${options.pid}0156`;
  const onDay = (date: Date | undefined): date is Date => date !== undefined && beijingDate(date) === day;
  const start = new Date(Date.parse(`${day}T00:00:00+08:00`));
  const end = new Date(start.getTime() + 24 * 60 * 60 * 1000);

  const rows: string[] = [];
  let paymentCount = 0;
  let refundCount = 0;
  let paymentTotal = 0n;
  let refundTotal = 0n;
  let feeTotal = 0n;
  let orderTotal = 0n;
  const trades = [...options.trades].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  for (const trade of trades) {
    const common = (kind: '交易' | '退款', finishedAt: Date) => [trade.tradeNo, trade.outTradeNo, kind, trade.subject, beijingDateTime(trade.createdAt), beijingDateTime(finishedAt), '', '', '', '', trade.buyerLogonId ?? ''];
    if (onDay(trade.paidAt)) {
      const fee = feeForRate(trade.totalAmount, options.feeBps);
      paymentCount += 1;
      paymentTotal += trade.totalAmount;
      orderTotal += trade.totalAmount;
      feeTotal -= fee;
      rows.push(csvRow([...common('交易', trade.paidAt), formatYuan(trade.totalAmount), formatYuan(trade.totalAmount), zero, zero, zero, zero, zero, '', zero, zero, '', negate(fee), zero, '']));
    }
    for (const refund of trade.refunds) {
      if (!onDay(refund.refundedAt)) continue;
      const feeBack = feeForRate(refund.amount, options.feeBps);
      refundCount += 1;
      refundTotal += refund.amount;
      feeTotal += feeBack;
      rows.push(
        csvRow([...common('退款', refund.refundedAt), formatYuan(trade.totalAmount), negate(refund.amount), zero, zero, zero, zero, zero, '', zero, zero, refund.outRequestNo, formatYuan(feeBack), zero, refund.reason ?? '']),
      );
    }
  }
  const period = `#起始日期：[${beijingBillDateTime(start)}]   终止日期：[${beijingBillDateTime(end)}]`;
  const exported = `#导出时间：[${beijingBillDateTime(options.exportedAt)}]`;
  const detail = [
    '#支付宝业务明细查询',
    `#账号：[${account}]`,
    period,
    '#-----------------------------------------业务明细列表----------------------------------------',
    csvRow(detailColumns),
    ...rows,
    '#-----------------------------------------业务明细列表结束------------------------------------',
    `#交易合计：${paymentCount}笔，商家实收共${formatYuan(paymentTotal)}元，商家优惠共0.00元`,
    `#退款合计：${refundCount}笔，商家实收共${negate(refundTotal)}元，商家优惠共0.00元`,
    exported,
    '',
  ].join('\r\n');
  const received = paymentTotal - refundTotal;
  const net = received + feeTotal;
  const summaryValues = (store: string) => [
    '',
    store,
    paymentCount.toString(),
    refundCount.toString(),
    formatYuan(orderTotal),
    formatYuan(received),
    zero,
    zero,
    zero,
    formatYuan(feeTotal),
    zero,
    formatYuan(net),
  ];
  const summary = [
    '#支付宝业务汇总查询',
    `#账号：[${account}]`,
    period,
    '#-----------------------------------------业务汇总列表----------------------------------------',
    csvRow(summaryColumns),
    csvRow(summaryValues('')),
    csvRow(['合计', ...summaryValues('').slice(1)]),
    '#-----------------------------------------业务汇总列表结束------------------------------------',
    exported,
    '',
  ].join('\r\n');
  const detailName = `${account}_${compact}_业务明细.csv`;
  const summaryName = `${account}_${compact}_业务明细(汇总).csv`;
  const zip = writeZip(
    [
      { name: encodeGbk(detailName), data: encodeGbk(detail) },
      { name: encodeGbk(summaryName), data: encodeGbk(summary) },
    ],
    options.exportedAt,
  );
  return { fileName: `${account}_${compact}.csv.zip`, zip, detailName, detail, summaryName, summary };
}
