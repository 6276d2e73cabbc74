/**
 * ACP response codes, classified. `respCode` on a query answer is the status of the query itself;
 * `origRespCode` is the original transaction's. On a back transaction (refund, cancel) `respCode 00`
 * means "accepted", not "done" (the official demos: "交易已受理…等待接收后台通知确定交易成功").
 *
 * Sources: channels-cn.md §5 (00 success; 03/04/05 processing; 34 查无此交易, from memory there) and
 * the respCode list printed in UnionPay's ACP demos, quoted from memory and not verified here. A code
 * that is not in this table is unknown, and an unknown code is never final: it stays processing.
 */
import type { ChannelFailure } from '../channel.ts';

export type AcpCodeClass = 'success' | 'in_progress' | 'not_found' | 'refused';

export const acpResponseCodes: Readonly<Record<string, { readonly class: AcpCodeClass; readonly meaning: string }>> = {
  '00': { class: 'success', meaning: '成功 / success (on a back transaction: accepted)' },
  '01': { class: 'refused', meaning: '交易失败 / transaction failed' },
  '02': { class: 'refused', meaning: '系统未开放或暂时关闭 / system closed' },
  '03': { class: 'in_progress', meaning: '交易通讯超时 / communication timeout' },
  '04': { class: 'in_progress', meaning: '交易状态未明 / status unknown' },
  '05': { class: 'in_progress', meaning: '交易已受理 / accepted, in progress' },
  '06': { class: 'in_progress', meaning: '系统繁忙 / system busy' },
  '10': { class: 'refused', meaning: '报文格式错误 / malformed message' },
  '11': { class: 'refused', meaning: '验证签名失败 / signature verification failed' },
  // A repeated orderId: the earlier request may have been taken, so the answer to this one says nothing final.
  '12': { class: 'in_progress', meaning: '重复交易 / duplicate transaction' },
  '13': { class: 'refused', meaning: '报文交易要素缺失 / required field missing' },
  '30': { class: 'refused', meaning: '交易未通过 / transaction not approved' },
  '31': { class: 'refused', meaning: '商户状态不正确 / merchant status invalid' },
  '32': { class: 'refused', meaning: '无此交易权限 / not permitted' },
  '33': { class: 'refused', meaning: '交易金额超限 / amount over limit' },
  '34': { class: 'not_found', meaning: '查无此交易 / no such transaction' },
  '35': { class: 'refused', meaning: '原交易不存在或状态不正确 / original missing or in the wrong state' },
  '36': { class: 'refused', meaning: '与原交易信息不符 / does not match the original' },
  '37': { class: 'in_progress', meaning: '查询过于频繁 / queried too often' },
  '38': { class: 'refused', meaning: '银联风险受限 / refused by UnionPay risk control' },
  '39': { class: 'refused', meaning: '交易不在受理时间范围内 / outside accepted hours' },
  '60': { class: 'refused', meaning: '交易失败，详情请咨询您的发卡行 / declined by the issuer' },
  '61': { class: 'refused', meaning: '输入的卡号无效 / invalid card number' },
  '63': { class: 'refused', meaning: '卡状态不正确 / card status invalid' },
  '64': { class: 'refused', meaning: '卡上的余额不足 / insufficient balance' },
  '65': { class: 'refused', meaning: '密码、有效期或CVN2有误 / wrong PIN, expiry or CVN2' },
  '70': { class: 'in_progress', meaning: '交易已跳转，等待持卡人输入 / waiting for the cardholder' },
  '73': { class: 'refused', meaning: '支付卡已超过有效期 / card expired' },
  '74': { class: 'in_progress', meaning: '扣款成功，销账未知 / debited, posting unknown' },
  '99': { class: 'refused', meaning: '通用错误 / general error' },
};

/** Unknown and missing codes are `undefined`: the caller keeps the operation processing. */
export function classifyAcpCode(code: string | undefined): AcpCodeClass | undefined {
  if (code === undefined) return undefined;
  return acpResponseCodes[code]?.class;
}

/** The Stripe-vocabulary failure for an original transaction's refusal code. */
export function failureForCode(code: string, message: string | undefined): ChannelFailure {
  const text = message !== undefined && message !== '' ? `UnionPay ${code}: ${message}` : `UnionPay ${code}: ${acpResponseCodes[code]?.meaning ?? 'declined'}`;
  switch (code) {
    case '64':
      return { code: 'card_declined', declineCode: 'insufficient_funds', message: text };
    case '73':
      return { code: 'expired_card', declineCode: 'expired_card', message: text };
    case '61':
      return { code: 'incorrect_number', declineCode: 'incorrect_number', message: text };
    case '65':
      return { code: 'card_declined', declineCode: 'incorrect_pin', message: text };
    case '02':
    case '10':
    case '11':
    case '13':
    case '31':
    case '32':
    case '39':
    case '99':
      return { code: 'processing_error', declineCode: undefined, message: text };
    default:
      return { code: 'card_declined', declineCode: 'generic_decline', message: text };
  }
}
