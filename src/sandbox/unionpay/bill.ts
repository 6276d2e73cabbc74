/**
 * The daily reconciliation file. channels-cn.md does not describe UnionPay's own file (ACP serves it
 * from filedownload.95516.com as a zip whose layout the reference leaves out), so the emulator
 * publishes a documented, simple CSV instead, one per merchant and Beijing calendar day:
 *
 *   txnType,orderId,queryId,origQryId,txnTime,txnAmt,currencyCode,settleDate,traceNo,reqReserved
 *   01,Ab12…,652031…,,20310615200000,2000,156,0615,000001,
 *   04,Re34…,652031…,652031…,20310615201500,500,156,0615,000002,Ab12…
 *
 * Only transactions that succeeded appear (consumes paid, refunds and cancels done), in the order
 * they completed; amounts are integer fen. The day is the Beijing date on which the transaction
 * completed (UnionPay's real clearing day turns at 23:00; the emulator does not model that).
 */
import { beijingTime } from './acp.ts';
import type { AcpTransaction } from './store.ts';

export const billHeader = 'txnType,orderId,queryId,origQryId,txnTime,txnAmt,currencyCode,settleDate,traceNo,reqReserved';

function completedAt(t: AcpTransaction): Date | undefined {
  if (t.txnType === '01') return t.status === 'paid' ? t.completedAt : undefined;
  return t.respCode === '00' ? t.createdAt : undefined;
}

const csvCell = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

export function dailyBill(transactions: readonly AcpTransaction[], merId: string, date: string): string {
  const rows = transactions
    .map((t) => ({ t, at: completedAt(t) }))
    .filter((row): row is { t: AcpTransaction; at: Date } => row.at !== undefined && row.t.merId === merId && beijingTime(row.at).slice(0, 8) === date)
    .sort((a, b) => a.at.getTime() - b.at.getTime())
    .map(({ t }) =>
      [t.txnType, t.orderId, t.queryId ?? '', t.txnType === '01' ? '' : t.origQryId, t.txnTime, t.txnAmt.toString(), t.currencyCode, t.settleDate ?? '', t.traceNo ?? '', t.reqReserved ?? '']
        .map(csvCell)
        .join(','),
    );
  return `${[billHeader, ...rows].join('\n')}\n`;
}
