/**
 * The daily trade bill (交易账单) in WeChat's CSV: UTF-8 with a BOM, a header row, one row per payment
 * (交易状态 SUCCESS, on the day it was paid) and per refund (REFUND, on the day it was asked for),
 * every value prefixed with a backtick, then the totals. Days are Beijing calendar days. The fee is
 * 0.60% of each amount, rounded half up to the fen; refund rows give the fee back.
 */
import { feeForRate, formatMinor } from '../../kernel/index.ts';
import type { EmulatedOrder, EmulatedRefund } from './store.ts';

export type BillType = 'ALL' | 'SUCCESS' | 'REFUND';

const feeRateBps = 60n;
const feeRateText = '0.60%';

const allColumns = [
  '交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态', '付款银行', '货币种类',
  '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '商品名称', '商户数据包', '手续费',
  '费率', '订单金额', '申请退款金额', '费率备注',
] as const;
const successColumns = allColumns.filter(
  (name) => !['微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '申请退款金额'].includes(name),
);
const refundColumns = [...allColumns.slice(0, 14), '退款申请时间', '退款成功时间', ...allColumns.slice(14)];

const tradeTypeNames: Readonly<Record<EmulatedOrder['tradeType'], string>> = { NATIVE: 'NATIVE', JSAPI: 'JSAPI', MWEB: 'MWEB', APP: 'APP' };

function yuan(fen: bigint): string {
  return formatMinor(fen, 'cny');
}

/** `2031-06-15 20:00:00` and `2031-06-15`, Beijing time. */
export function beijingParts(date: Date): { dateTime: string; day: string } {
  const iso = new Date(date.getTime() + 8 * 3_600_000).toISOString();
  return { dateTime: `${iso.slice(0, 10)} ${iso.slice(11, 19)}`, day: iso.slice(0, 10) };
}

/** WeChat's bills are not quoted: commas and line breaks inside a value would break the file. */
function clean(value: string): string {
  return value.replace(/[,\r\n]/g, ' ');
}

export interface BillInput {
  readonly billDate: string;
  readonly billType: BillType;
  readonly orders: readonly EmulatedOrder[];
  readonly refunds: readonly EmulatedRefund[];
}

/** The bill file, or undefined when the day has no rows (WeChat: NO_STATEMENT_EXIST). */
export function renderTradeBill(input: BillInput): string | undefined {
  const rows: Record<string, string>[] = [];
  let settlementTotal = 0n;
  let refundTotal = 0n;
  let feeTotal = 0n;
  let orderTotal = 0n;
  let requestedRefundTotal = 0n;
  const orderByNo = new Map(input.orders.map((order) => [order.outTradeNo, order]));
  const common = (order: EmulatedOrder): Record<string, string> => ({
    公众账号ID: order.appId,
    商户号: order.mchId,
    特约商户号: '0',
    设备号: '',
    微信订单号: order.transactionId ?? '',
    商户订单号: order.outTradeNo,
    用户标识: order.payerOpenId ?? '',
    交易类型: tradeTypeNames[order.tradeType],
    付款银行: 'OTHERS',
    货币种类: 'CNY',
    代金券金额: '0.00',
    充值券退款金额: '0.00',
    商品名称: clean(order.description),
    商户数据包: clean(order.attach),
    费率: feeRateText,
    费率备注: '',
  });

  if (input.billType !== 'REFUND') {
    for (const order of input.orders) {
      if (order.successTime === undefined || beijingParts(order.successTime).day !== input.billDate) continue;
      const fee = feeForRate(order.total, feeRateBps);
      settlementTotal += order.total;
      orderTotal += order.total;
      feeTotal += fee;
      rows.push({
        ...common(order),
        交易时间: beijingParts(order.successTime).dateTime,
        交易状态: 'SUCCESS',
        应结订单金额: yuan(order.total),
        微信退款单号: '0',
        商户退款单号: '0',
        退款金额: '0.00',
        退款类型: '',
        退款状态: '',
        手续费: yuan(fee),
        订单金额: yuan(order.total),
        申请退款金额: '0.00',
      });
    }
  }
  if (input.billType !== 'SUCCESS') {
    for (const refund of input.refunds) {
      const order = orderByNo.get(refund.outTradeNo);
      if (order === undefined || beijingParts(refund.createdAt).day !== input.billDate) continue;
      const fee = feeForRate(refund.amount, feeRateBps);
      const succeeded = refund.status === 'SUCCESS';
      if (succeeded) {
        refundTotal += refund.amount;
        feeTotal -= fee;
      }
      requestedRefundTotal += refund.amount;
      rows.push({
        ...common(order),
        交易时间: beijingParts(refund.createdAt).dateTime,
        交易状态: 'REFUND',
        应结订单金额: '0.00',
        微信退款单号: refund.refundId,
        商户退款单号: refund.outRefundNo,
        退款金额: succeeded ? yuan(refund.amount) : '0.00',
        退款类型: 'ORIGINAL',
        退款状态: refund.status,
        手续费: succeeded ? `-${yuan(fee)}` : '0.00',
        订单金额: '0.00',
        申请退款金额: yuan(refund.amount),
        退款申请时间: beijingParts(refund.createdAt).dateTime,
        退款成功时间: refund.successTime === undefined ? '' : beijingParts(refund.successTime).dateTime,
      });
    }
  }
  if (rows.length === 0) return undefined;
  rows.sort((a, b) => (a.交易时间 ?? '').localeCompare(b.交易时间 ?? ''));

  const columns = input.billType === 'ALL' ? allColumns : input.billType === 'SUCCESS' ? successColumns : refundColumns;
  const lines = [columns.join(',')];
  for (const row of rows) lines.push(columns.map((name) => `\`${row[name] ?? ''}`).join(','));
  lines.push('总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额');
  const feeText = `${feeTotal < 0n ? '-' : ''}${yuan(feeTotal < 0n ? -feeTotal : feeTotal)}000`;
  lines.push(
    [String(rows.length), yuan(settlementTotal), yuan(refundTotal), '0.00', feeText, yuan(orderTotal), yuan(requestedRefundTotal)].map((v) => `\`${v}`).join(','),
  );
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
