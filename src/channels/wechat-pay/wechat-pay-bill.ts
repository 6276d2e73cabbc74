/**
 * WeChat's daily trade bill (交易账单), the same CSV for v2 downloadbill and v3 tradebill: a header
 * row, data rows whose every value starts with a backtick, then a totals header and a totals row.
 * Amounts are yuan strings ("12.34"); they become fen without ever touching a float.
 */

/** "12.34" → 1234n; "-0.01" → -1n; more than two decimals only when the extra ones are zeros ("0.01000"). */
export function yuanToFen(text: string): bigint | undefined {
  const match = /^(-?)(\d+)(?:\.(\d{1,5}))?$/.exec(text.trim());
  if (match === null) return undefined;
  const [, sign = '', whole = '0', fraction = ''] = match;
  if (fraction.length > 2 && !/^0+$/.test(fraction.slice(2))) return undefined;
  const fen = BigInt(whole) * 100n + BigInt(fraction.slice(0, 2).padEnd(2, '0'));
  return sign === '-' ? -fen : fen;
}

export interface TradeBillRow {
  /** 交易时间, Beijing time as written: `2031-06-15 20:00:00`. For refund rows, when the refund was asked for. */
  readonly tradeTime: string;
  readonly transactionId: string;
  readonly outTradeNo: string;
  readonly tradeType: string;
  /** SUCCESS for a payment row, REFUND for a refund row, REVOKED. */
  readonly tradeState: string;
  readonly currency: string;
  /** 应结订单金额 in fen. */
  readonly settlementAmount: bigint;
  readonly refundId: string;
  readonly outRefundNo: string;
  /** 退款金额 in fen. */
  readonly refundAmount: bigint;
  readonly refundStatus: string;
  readonly description: string;
  /** 手续费 in fen (negative on refund rows: the fee comes back). */
  readonly fee: bigint;
  /** 订单金额 in fen. */
  readonly orderAmount: bigint;
  /** Every column by its Chinese header, backticks removed. */
  readonly columns: Readonly<Record<string, string>>;
}

export interface TradeBillSummary {
  readonly tradeCount: number;
  readonly settlementTotal: bigint;
  readonly refundTotal: bigint;
  readonly feeTotal: bigint;
  readonly orderTotal: bigint;
}

export interface TradeBill {
  readonly rows: readonly TradeBillRow[];
  readonly summary: TradeBillSummary;
}

function cells(line: string): string[] {
  return line.split(',').map((cell) => cell.replace(/^`/, '').trim());
}

/** Parses the ALL / SUCCESS / REFUND variants by column name; undefined when the file is not a trade bill. */
export function parseTradeBill(csv: string): TradeBill | undefined {
  const lines = csv
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((line) => line.trim().length > 0);
  const header = lines[0] === undefined ? undefined : cells(lines[0]);
  if (header?.[0] !== '交易时间') return undefined;
  const summaryAt = lines.findIndex((line) => line.startsWith('总交易单数'));
  if (summaryAt < 1) return undefined;
  const rows: TradeBillRow[] = [];
  for (const line of lines.slice(1, summaryAt)) {
    const values = cells(line);
    const columns = Object.fromEntries(header.map((name, i) => [name, values[i] ?? '']));
    const col = (name: string): string => columns[name] ?? '';
    const fen = (name: string): bigint | undefined => (columns[name] === undefined || columns[name] === '' ? 0n : yuanToFen(col(name)));
    const settlementAmount = fen('应结订单金额');
    const refundAmount = fen('退款金额');
    const fee = fen('手续费');
    const orderAmount = fen('订单金额');
    if (settlementAmount === undefined || refundAmount === undefined || fee === undefined || orderAmount === undefined) return undefined;
    rows.push({
      tradeTime: col('交易时间'),
      transactionId: col('微信订单号'),
      outTradeNo: col('商户订单号'),
      tradeType: col('交易类型'),
      tradeState: col('交易状态'),
      currency: col('货币种类'),
      settlementAmount,
      refundId: col('微信退款单号'),
      outRefundNo: col('商户退款单号'),
      refundAmount,
      refundStatus: col('退款状态'),
      description: col('商品名称'),
      fee,
      orderAmount,
      columns,
    });
  }
  const summaryHeader = cells(lines[summaryAt] ?? '');
  const summaryValues = cells(lines[summaryAt + 1] ?? '');
  const total = (name: string): bigint | undefined => {
    const i = summaryHeader.indexOf(name);
    return i < 0 ? 0n : yuanToFen(summaryValues[i] ?? '');
  };
  const tradeCount = Number.parseInt(summaryValues[0] ?? '', 10);
  const settlementTotal = total('应结订单总金额');
  const refundTotal = total('退款总金额');
  const feeTotal = total('手续费总金额');
  const orderTotal = total('订单总金额');
  if (!Number.isSafeInteger(tradeCount) || settlementTotal === undefined || refundTotal === undefined || feeTotal === undefined || orderTotal === undefined) {
    return undefined;
  }
  return { rows, summary: { tradeCount, settlementTotal, refundTotal, feeTotal, orderTotal } };
}
