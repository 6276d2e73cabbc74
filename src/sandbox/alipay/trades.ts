/**
 * The emulator's memory of trades, behind a small store interface so it could be swapped for a
 * persistent one. Trades are plain mutable records owned by the emulator; the store only finds them.
 */
export type TradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED' | 'TRADE_FINISHED';

/** How the trade was created: which OpenAPI method, hence which return method and product code. */
export type TradeProduct = 'precreate' | 'page' | 'wap' | 'app';

export interface TradeRefund {
  readonly outRequestNo: string;
  readonly amount: bigint;
  readonly refundedAt: Date;
  readonly reason: string | undefined;
}

export interface Trade {
  readonly outTradeNo: string;
  readonly tradeNo: string;
  /** Unguessable token in the buyer's URLs (QR content, cashier page). */
  readonly token: string;
  readonly product: TradeProduct;
  readonly subject: string;
  readonly body: string | undefined;
  readonly totalAmount: bigint;
  readonly createdAt: Date;
  readonly expiresAt: Date | undefined;
  readonly notifyUrl: string | undefined;
  readonly returnUrl: string | undefined;
  readonly quitUrl: string | undefined;
  readonly passbackParams: string | undefined;
  status: TradeStatus;
  /**
   * Whether Alipay admits the trade exists. A precreated QR trade does not until the buyer scans it
   * (query and close answer ACQ.TRADE_NOT_EXIST); a page trade does once the buyer opens the cashier.
   */
  visible: boolean;
  paidAt: Date | undefined;
  closedAt: Date | undefined;
  buyerId: string | undefined;
  buyerLogonId: string | undefined;
  refunds: TradeRefund[];
}

export interface AlipayTradeStore {
  byOutTradeNo(outTradeNo: string): Trade | undefined;
  byTradeNo(tradeNo: string): Trade | undefined;
  byToken(token: string): Trade | undefined;
  save(trade: Trade): void;
  all(): readonly Trade[];
}

export function createMemoryTradeStore(): AlipayTradeStore {
  const byOut = new Map<string, Trade>();
  const byNo = new Map<string, Trade>();
  const byTok = new Map<string, Trade>();
  return {
    byOutTradeNo: (outTradeNo) => byOut.get(outTradeNo),
    byTradeNo: (tradeNo) => byNo.get(tradeNo),
    byToken: (token) => byTok.get(token),
    save(trade) {
      byOut.set(trade.outTradeNo, trade);
      byNo.set(trade.tradeNo, trade);
      byTok.set(trade.token, trade);
    },
    all: () => [...byOut.values()],
  };
}

export function amountRefunded(trade: Trade): bigint {
  return trade.refunds.reduce((sum, refund) => sum + refund.amount, 0n);
}

/** The return method Alipay names in a synchronous return URL and the product code it expects. */
export const productMethods: Readonly<Record<TradeProduct, { readonly method: string; readonly productCode: string }>> = {
  precreate: { method: 'alipay.trade.precreate', productCode: 'FACE_TO_FACE_PAYMENT' },
  page: { method: 'alipay.trade.page.pay', productCode: 'FAST_INSTANT_TRADE_PAY' },
  wap: { method: 'alipay.trade.wap.pay', productCode: 'QUICK_WAP_WAY' },
  app: { method: 'alipay.trade.app.pay', productCode: 'QUICK_MSECURITY_PAY' },
};
