/**
 * What the emulated UnionPay remembers: every transaction it took (consumes, refunds, cancels), keyed
 * the way ACP keys them (merId + orderId + txnTime) and by UnionPay's own queryId. In memory behind a
 * small interface, so a persistent store could replace it without touching the protocol code.
 */

export type ConsumeStatus = 'awaiting_buyer' | 'paid' | 'declined' | 'walked_away';

interface TransactionBase {
  readonly merId: string;
  readonly orderId: string;
  readonly txnTime: string;
  readonly txnAmt: bigint;
  readonly currencyCode: string;
  readonly backUrl: string | undefined;
  readonly reqReserved: string | undefined;
  readonly createdAt: Date;
}

export interface ConsumeTransaction extends TransactionBase {
  readonly txnType: '01';
  readonly channelType: string;
  readonly frontUrl: string | undefined;
  readonly payTimeout: Date | undefined;
  readonly orderDesc: string | undefined;
  /** The buyer page's unguessable handle. */
  readonly token: string;
  status: ConsumeStatus;
  queryId: string | undefined;
  respCode: string | undefined;
  respMsg: string | undefined;
  traceNo: string | undefined;
  traceTime: string | undefined;
  settleDate: string | undefined;
  completedAt: Date | undefined;
  amountRefunded: bigint;
  canceled: boolean;
}

/** A refund (04) or a cancel (31): taken and decided at once, as UnionPay does for online ones. */
export interface BackTransaction extends TransactionBase {
  readonly txnType: '04' | '31';
  readonly origQryId: string;
  readonly queryId: string;
  readonly respCode: string;
  readonly respMsg: string;
  readonly traceNo: string;
  readonly traceTime: string;
  readonly settleDate: string;
}

export type AcpTransaction = ConsumeTransaction | BackTransaction;

export interface UnionPayStore {
  put(transaction: AcpTransaction): void;
  find(merId: string, orderId: string, txnTime: string): AcpTransaction | undefined;
  byQueryId(queryId: string): AcpTransaction | undefined;
  byToken(token: string): ConsumeTransaction | undefined;
  /** Any transaction of this merchant with this orderId (ACP refuses to reuse an orderId). */
  anyWithOrderId(merId: string, orderId: string): AcpTransaction | undefined;
  all(): readonly AcpTransaction[];
}

export function createMemoryStore(): UnionPayStore {
  const byKey = new Map<string, AcpTransaction>();
  const byQuery = new Map<string, AcpTransaction>();
  const byTokenMap = new Map<string, ConsumeTransaction>();
  const key = (merId: string, orderId: string, txnTime: string) => `${merId}|${orderId}|${txnTime}`;
  return {
    put(transaction) {
      byKey.set(key(transaction.merId, transaction.orderId, transaction.txnTime), transaction);
      if (transaction.queryId !== undefined) byQuery.set(transaction.queryId, transaction);
      if (transaction.txnType === '01') byTokenMap.set(transaction.token, transaction);
    },
    find: (merId, orderId, txnTime) => byKey.get(key(merId, orderId, txnTime)),
    byQueryId: (queryId) => byQuery.get(queryId),
    byToken: (token) => byTokenMap.get(token),
    anyWithOrderId: (merId, orderId) => [...byKey.values()].find((t) => t.merId === merId && t.orderId === orderId),
    all: () => [...byKey.values()],
  };
}
