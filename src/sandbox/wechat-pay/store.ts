/**
 * What the emulator remembers: orders and refunds, in WeChat's own states. Behind a small interface so
 * a persistent store could replace the in-memory one; the emulator mutates records only through save.
 */

export type EmulatedTradeState = 'NOTPAY' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'REVOKED' | 'USERPAYING' | 'PAYERROR';
export type EmulatedTradeType = 'NATIVE' | 'JSAPI' | 'MWEB' | 'APP';
export type EmulatedRefundStatus = 'PROCESSING' | 'SUCCESS' | 'ABNORMAL' | 'CLOSED';

export interface EmulatedOrder {
  readonly outTradeNo: string;
  readonly tradeType: EmulatedTradeType;
  readonly appId: string;
  readonly mchId: string;
  readonly description: string;
  readonly attach: string;
  readonly notifyUrl: string;
  /** Integer fen. */
  readonly total: bigint;
  readonly timeExpire: Date | undefined;
  readonly openId: string | undefined;
  readonly clientIp: string | undefined;
  /** The create request, canonicalized: the same out_trade_no with other parameters is refused. */
  readonly fingerprint: string;
  /** The `pr` of the code_url: opens the buyer page. */
  readonly token: string;
  readonly prepayId: string;
  readonly createdAt: Date;
  tradeState: EmulatedTradeState;
  tradeStateDesc: string;
  transactionId: string | undefined;
  successTime: Date | undefined;
  payerOpenId: string | undefined;
  /** The buyer opened the page and left without deciding. */
  walkedAwayAt: Date | undefined;
}

export interface EmulatedRefund {
  readonly outRefundNo: string;
  readonly refundId: string;
  readonly outTradeNo: string;
  readonly transactionId: string;
  readonly amount: bigint;
  readonly total: bigint;
  readonly notifyUrl: string | undefined;
  readonly reason: string;
  readonly fingerprint: string;
  readonly createdAt: Date;
  status: EmulatedRefundStatus;
  successTime: Date | undefined;
}

export interface WechatPayEmulatorStore {
  getOrder(outTradeNo: string): EmulatedOrder | undefined;
  findOrder(match: { readonly token?: string; readonly prepayId?: string; readonly transactionId?: string }): EmulatedOrder | undefined;
  saveOrder(order: EmulatedOrder): void;
  listOrders(): readonly EmulatedOrder[];
  getRefund(outRefundNo: string): EmulatedRefund | undefined;
  saveRefund(refund: EmulatedRefund): void;
  listRefunds(outTradeNo?: string): readonly EmulatedRefund[];
}

export function createMemoryStore(): WechatPayEmulatorStore {
  const orders = new Map<string, EmulatedOrder>();
  const refunds = new Map<string, EmulatedRefund>();
  return {
    getOrder: (outTradeNo) => orders.get(outTradeNo),
    findOrder: ({ token, prepayId, transactionId }) =>
      [...orders.values()].find(
        (order) =>
          (token !== undefined && order.token === token) ||
          (prepayId !== undefined && order.prepayId === prepayId) ||
          (transactionId !== undefined && order.transactionId === transactionId),
      ),
    saveOrder: (order) => {
      orders.set(order.outTradeNo, order);
    },
    listOrders: () => [...orders.values()],
    getRefund: (outRefundNo) => refunds.get(outRefundNo),
    saveRefund: (refund) => {
      refunds.set(refund.outRefundNo, refund);
    },
    listRefunds: (outTradeNo) => [...refunds.values()].filter((refund) => outTradeNo === undefined || refund.outTradeNo === outTradeNo),
  };
}
