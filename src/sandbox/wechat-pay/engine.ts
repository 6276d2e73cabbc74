/**
 * The emulator's business rules, free of HTTP: what WeChat Pay does with each API call and each buyer
 * decision, in WeChat's own states and error codes. Orders go NOTPAY → SUCCESS | PAYERROR | CLOSED
 * (closed by the merchant or at time_expire) and SUCCESS → REFUND once refunded; refunds go
 * PROCESSING → SUCCESS (or ABNORMAL / CLOSED when a fault says so) a few seconds later, never above
 * what was paid.
 */
import { createHash, randomUUID } from 'node:crypto';
import { beijingParts, renderTradeBill } from './bill.ts';
import { randomDigits, randomString } from './crypto.ts';
import type { WechatPayFaults } from './faults.ts';
import type { Notifier } from './notifier.ts';
import type { EmulatedOrder, EmulatedRefund, EmulatedTradeType, WechatPayEmulatorStore } from './store.ts';

export interface ApiAnswer {
  readonly status: number;
  /** JSON body; undefined for 204. */
  readonly body?: unknown;
}

export interface Merchant {
  readonly mchId: string;
  readonly appId: string;
}

export interface EngineOptions {
  readonly merchant: Merchant;
  readonly store: WechatPayEmulatorStore;
  readonly notifier: Notifier;
  readonly faults: WechatPayFaults;
  readonly now: () => Date;
  readonly clockScale: number;
  /** Where buyer pages live: `<publicUrl><prefix>`. */
  readonly publicBase: () => string;
  /** WeChat-time seconds from a refund request to its outcome. */
  readonly refundSettleSeconds: number;
}

export type BuyerAction = 'pay' | 'decline' | 'walk_away';

type Json = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function error(status: number, code: string, message: string): ApiAnswer {
  return { status, body: { code, message } };
}

/** Canonical JSON (sorted keys) so that equal requests compare equal whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function beijingTime(date: Date): string {
  return `${new Date(date.getTime() + 8 * 3_600_000).toISOString().slice(0, 19)}+08:00`;
}

const tradeTypes: Readonly<Record<string, EmulatedTradeType>> = { native: 'NATIVE', jsapi: 'JSAPI', h5: 'MWEB', app: 'APP' };

function positiveFen(value: unknown): bigint | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? BigInt(value) : undefined;
}

function httpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

export interface Engine {
  createOrder(kind: string, body: unknown): ApiAnswer;
  queryOrder(by: { outTradeNo?: string; transactionId?: string }, mchid: string | undefined): ApiAnswer;
  closeOrder(outTradeNo: string, body: unknown): ApiAnswer;
  createRefund(body: unknown): ApiAnswer;
  queryRefund(outRefundNo: string): ApiAnswer;
  tradeBill(query: { billDate?: string; billType?: string }, downloadBase: string): ApiAnswer;
  billFile(token: string): Buffer | undefined;
  /** The buyer's view of an order by code_url `pr` or prepay_id. */
  orderForBuyer(match: { token?: string; prepayId?: string }): EmulatedOrder | undefined;
  buyer(order: EmulatedOrder, action: BuyerAction): { ok: true } | { ok: false; message: string };
  stop(): void;
}

export function createEngine(options: EngineOptions): Engine {
  const { store, merchant, notifier, faults, now } = options;
  const bills = new Map<string, Buffer>();
  const timers = new Set<NodeJS.Timeout>();

  /** An unpaid order past its time_expire is closed, as WeChat closes it. */
  function current(order: EmulatedOrder): EmulatedOrder {
    if (order.tradeState === 'NOTPAY' && order.timeExpire !== undefined && now() > order.timeExpire) {
      order.tradeState = 'CLOSED';
      order.tradeStateDesc = '订单已关闭';
      store.saveOrder(order);
    }
    return order;
  }

  function transactionJson(order: EmulatedOrder): Json {
    const paid = order.transactionId !== undefined;
    return {
      appid: order.appId,
      mchid: order.mchId,
      out_trade_no: order.outTradeNo,
      ...(paid ? { transaction_id: order.transactionId } : {}),
      trade_type: order.tradeType,
      trade_state: order.tradeState,
      trade_state_desc: order.tradeStateDesc,
      ...(paid ? { bank_type: 'OTHERS' } : {}),
      attach: order.attach,
      ...(order.successTime === undefined ? {} : { success_time: beijingTime(order.successTime) }),
      ...(order.payerOpenId === undefined ? {} : { payer: { openid: order.payerOpenId } }),
      amount: { total: Number(order.total), ...(paid ? { payer_total: Number(order.total) } : {}), currency: 'CNY', payer_currency: 'CNY' },
    };
  }

  function refundJson(refund: EmulatedRefund): Json {
    return {
      refund_id: refund.refundId,
      out_refund_no: refund.outRefundNo,
      transaction_id: refund.transactionId,
      out_trade_no: refund.outTradeNo,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      ...(refund.successTime === undefined ? {} : { success_time: beijingTime(refund.successTime) }),
      create_time: beijingTime(refund.createdAt),
      status: refund.status,
      funds_account: 'AVAILABLE',
      amount: {
        total: Number(refund.total),
        refund: Number(refund.amount),
        from: [],
        payer_total: Number(refund.total),
        payer_refund: Number(refund.amount),
        settlement_refund: Number(refund.amount),
        settlement_total: Number(refund.total),
        discount_refund: 0,
        currency: 'CNY',
        refund_fee: 0,
      },
      promotion_detail: [],
    };
  }

  function prepayAnswer(order: EmulatedOrder): ApiAnswer {
    const base = options.publicBase();
    switch (order.tradeType) {
      case 'NATIVE':
        // Real code_url is weixin://wxpay/bizpayurl?pr=…, which only the WeChat app opens. The emulator's
        // is an http URL with the same `pr`, so a laptop can open it and a phone can scan it.
        return { status: 200, body: { code_url: `${base}/pay?pr=${order.token}` } };
      case 'MWEB':
        return { status: 200, body: { h5_url: `${base}/pay?prepay_id=${order.prepayId}` } };
      case 'JSAPI':
      case 'APP':
        return { status: 200, body: { prepay_id: order.prepayId } };
      default:
        return error(500, 'SYSTEM_ERROR', '系统错误');
    }
  }

  function refundable(order: EmulatedOrder): bigint {
    const taken = store
      .listRefunds(order.outTradeNo)
      .filter((refund) => refund.status !== 'CLOSED')
      .reduce((sum, refund) => sum + refund.amount, 0n);
    return order.total - taken;
  }

  function later(seconds: number, task: () => void): void {
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        task();
      },
      (seconds * 1000) / options.clockScale,
    );
    timers.add(timer);
  }

  function notifyRefund(refund: EmulatedRefund, order: EmulatedOrder): void {
    const events = { SUCCESS: ['REFUND.SUCCESS', '退款成功'], ABNORMAL: ['REFUND.ABNORMAL', '退款异常'], CLOSED: ['REFUND.CLOSED', '退款关闭'] } as const;
    if (refund.status === 'PROCESSING') return;
    const [eventType, summary] = events[refund.status];
    notifier.send({
      url: refund.notifyUrl ?? order.notifyUrl,
      eventType,
      summary,
      originalType: 'refund',
      resource: {
        mchid: order.mchId,
        out_trade_no: order.outTradeNo,
        transaction_id: refund.transactionId,
        out_refund_no: refund.outRefundNo,
        refund_id: refund.refundId,
        refund_status: refund.status,
        ...(refund.successTime === undefined ? {} : { success_time: beijingTime(refund.successTime) }),
        user_received_account: '支付用户零钱',
        amount: { total: Number(refund.total), refund: Number(refund.amount), payer_total: Number(refund.total), payer_refund: Number(refund.amount) },
      },
    });
  }

  return {
    createOrder(kind, body) {
      const tradeType = tradeTypes[kind];
      if (tradeType === undefined) return error(404, 'NOT_FOUND', '无效的请求路径');
      if (!isObject(body)) return error(400, 'PARAM_ERROR', '请求体不是合法的JSON');
      if (body.mchid !== merchant.mchId) return error(400, 'MCH_NOT_EXISTS', '商户号不存在');
      if (body.appid !== merchant.appId) return error(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
      const outTradeNo = body.out_trade_no;
      if (typeof outTradeNo !== 'string' || !/^[0-9A-Za-z_\-|*]{6,32}$/.test(outTradeNo)) return error(400, 'PARAM_ERROR', '商户订单号out_trade_no格式错误');
      const description = body.description;
      if (typeof description !== 'string' || description.length === 0 || Buffer.byteLength(description, 'utf8') > 127) {
        return error(400, 'PARAM_ERROR', '商品描述description不合法');
      }
      if (!httpUrl(body.notify_url)) return error(400, 'PARAM_ERROR', '通知地址notify_url不合法');
      const amount = isObject(body.amount) ? body.amount : {};
      const total = positiveFen(amount.total);
      if (total === undefined) return error(400, 'PARAM_ERROR', '订单金额amount.total必须为正整数（单位：分）');
      if (amount.currency !== undefined && amount.currency !== 'CNY') return error(400, 'PARAM_ERROR', '币种currency只支持CNY');
      let timeExpire: Date | undefined;
      if (body.time_expire !== undefined) {
        timeExpire = typeof body.time_expire === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)$/.test(body.time_expire) ? new Date(body.time_expire) : undefined;
        if (timeExpire === undefined || Number.isNaN(timeExpire.getTime())) return error(400, 'PARAM_ERROR', '订单失效时间time_expire格式错误');
      }
      const payer = isObject(body.payer) ? body.payer : {};
      const openId = typeof payer.openid === 'string' && payer.openid.length > 0 ? payer.openid : undefined;
      if (tradeType === 'JSAPI' && openId === undefined) return error(400, 'PARAM_ERROR', 'JSAPI下单缺少payer.openid');
      const scene = isObject(body.scene_info) ? body.scene_info : {};
      const clientIp = typeof scene.payer_client_ip === 'string' && scene.payer_client_ip.length > 0 ? scene.payer_client_ip : undefined;
      if (tradeType === 'MWEB' && (clientIp === undefined || !isObject(scene.h5_info) || typeof scene.h5_info.type !== 'string')) {
        return error(400, 'PARAM_ERROR', 'H5下单缺少scene_info.payer_client_ip或h5_info.type');
      }

      const fingerprint = `${tradeType}:${canonical(body)}`;
      const existing = store.getOrder(outTradeNo);
      if (existing !== undefined) {
        // The same request again is answered again (WeChat: "请用相同参数重新调用"); other parameters are not.
        if (existing.fingerprint !== fingerprint) return error(403, 'OUT_TRADE_NO_USED', '商户订单号重复');
        const order = current(existing);
        if (order.tradeState === 'SUCCESS' || order.tradeState === 'REFUND') return error(400, 'ORDERPAID', '该订单已支付');
        if (order.tradeState === 'CLOSED') return error(400, 'ORDER_CLOSED', '订单已关闭');
        return prepayAnswer(order);
      }
      const order: EmulatedOrder = {
        outTradeNo,
        tradeType,
        appId: merchant.appId,
        mchId: merchant.mchId,
        description,
        attach: typeof body.attach === 'string' ? body.attach : '',
        notifyUrl: body.notify_url as string,
        total,
        timeExpire,
        openId,
        clientIp,
        fingerprint,
        token: randomString(24),
        prepayId: `wx${beijingParts(now()).dateTime.replace(/\D/g, '')}${randomString(20).toLowerCase()}`,
        createdAt: now(),
        tradeState: 'NOTPAY',
        tradeStateDesc: '订单未支付',
        transactionId: undefined,
        successTime: undefined,
        payerOpenId: undefined,
        walkedAwayAt: undefined,
      };
      store.saveOrder(order);
      return prepayAnswer(order);
    },

    queryOrder(by, mchid) {
      if (mchid !== merchant.mchId) return error(400, 'PARAM_ERROR', '商户号mchid不正确');
      const found = by.outTradeNo !== undefined ? store.getOrder(by.outTradeNo) : store.findOrder({ transactionId: by.transactionId ?? '' });
      if (found === undefined) return error(404, 'ORDER_NOT_EXIST', '订单不存在');
      return { status: 200, body: transactionJson(current(found)) };
    },

    closeOrder(outTradeNo, body) {
      if (!isObject(body) || body.mchid !== merchant.mchId) return error(400, 'PARAM_ERROR', '商户号mchid不正确');
      const found = store.getOrder(outTradeNo);
      if (found === undefined) return error(404, 'ORDER_NOT_EXIST', '订单不存在');
      const order = current(found);
      if (order.tradeState === 'SUCCESS' || order.tradeState === 'REFUND') return error(400, 'ORDERPAID', '订单已支付，不能关闭');
      if (order.tradeState === 'NOTPAY' || order.tradeState === 'USERPAYING' || order.tradeState === 'PAYERROR') {
        order.tradeState = 'CLOSED';
        order.tradeStateDesc = '订单已关闭';
        store.saveOrder(order);
      }
      return { status: 204 };
    },

    createRefund(body) {
      if (!isObject(body)) return error(400, 'PARAM_ERROR', '请求体不是合法的JSON');
      const outRefundNo = body.out_refund_no;
      if (typeof outRefundNo !== 'string' || !/^[0-9A-Za-z_\-|*@]{1,64}$/.test(outRefundNo)) return error(400, 'PARAM_ERROR', '商户退款单号out_refund_no格式错误');
      const found =
        typeof body.out_trade_no === 'string'
          ? store.getOrder(body.out_trade_no)
          : typeof body.transaction_id === 'string'
            ? store.findOrder({ transactionId: body.transaction_id })
            : undefined;
      if (found === undefined) return error(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
      const order = current(found);
      const amount = isObject(body.amount) ? body.amount : {};
      const refundFen = positiveFen(amount.refund);
      const totalFen = positiveFen(amount.total);
      if (refundFen === undefined || totalFen === undefined) return error(400, 'PARAM_ERROR', '退款金额amount.refund与原订单金额amount.total必须为正整数（单位：分）');
      if (amount.currency !== 'CNY') return error(400, 'PARAM_ERROR', '退款币种amount.currency只支持CNY');
      const fingerprint = canonical({ ...body, notify_url: undefined });
      const existing = store.getRefund(outRefundNo);
      if (existing !== undefined) {
        if (existing.fingerprint !== fingerprint) return error(400, 'INVALID_REQUEST', '商户退款单号重复，且请求参数与原请求不一致');
        return { status: 200, body: refundJson(existing) };
      }
      if (order.tradeState !== 'SUCCESS' && order.tradeState !== 'REFUND') return error(400, 'INVALID_REQUEST', '订单未支付，不能退款');
      if (totalFen !== order.total) return error(400, 'INVALID_REQUEST', '订单金额total与原订单金额不一致');
      if (refundFen > refundable(order)) return error(400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');
      const refund: EmulatedRefund = {
        outRefundNo,
        refundId: `50${randomDigits(27)}`,
        outTradeNo: order.outTradeNo,
        transactionId: order.transactionId ?? '',
        amount: refundFen,
        total: order.total,
        notifyUrl: httpUrl(body.notify_url) ? (body.notify_url as string) : undefined,
        reason: typeof body.reason === 'string' ? body.reason : '',
        fingerprint,
        createdAt: now(),
        status: 'PROCESSING',
        successTime: undefined,
      };
      store.saveRefund(refund);
      order.tradeState = 'REFUND';
      order.tradeStateDesc = '订单发生过退款';
      store.saveOrder(order);
      const settleAs = faults.take('refund_abnormal') ? 'ABNORMAL' : faults.take('refund_closed') ? 'CLOSED' : 'SUCCESS';
      later(options.refundSettleSeconds, () => {
        refund.status = settleAs;
        if (settleAs === 'SUCCESS') refund.successTime = now();
        store.saveRefund(refund);
        notifyRefund(refund, order);
      });
      return { status: 200, body: refundJson(refund) };
    },

    queryRefund(outRefundNo) {
      const refund = store.getRefund(outRefundNo);
      return refund === undefined ? error(404, 'RESOURCE_NOT_EXISTS', '退款单不存在') : { status: 200, body: refundJson(refund) };
    },

    tradeBill(query, downloadBase) {
      const { billDate, billType = 'ALL' } = query;
      if (billDate === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(billDate)) return error(400, 'PARAM_ERROR', '账单日期bill_date格式错误');
      if (billType !== 'ALL' && billType !== 'SUCCESS' && billType !== 'REFUND') return error(400, 'PARAM_ERROR', '账单类型bill_type不合法');
      // Real WeChat serves day T from about 10:00 on T+1; the emulator also serves today, so tests need not wait.
      if (billDate > beijingParts(now()).day) return error(400, 'INVALID_REQUEST', '账单日期不能晚于当天');
      const csv = renderTradeBill({ billDate, billType, orders: store.listOrders(), refunds: store.listRefunds() });
      if (csv === undefined) return error(400, 'NO_STATEMENT_EXIST', '账单文件不存在');
      const bytes = Buffer.from(csv, 'utf8');
      const token = randomUUID().replace(/-/g, '');
      bills.set(token, bytes);
      return {
        status: 200,
        body: { hash_type: 'SHA1', hash_value: createHash('sha1').update(bytes).digest('hex'), download_url: `${downloadBase}/v3/billdownload/file?token=${token}` },
      };
    },

    billFile: (token) => bills.get(token),

    orderForBuyer(match) {
      const order = match.token !== undefined ? store.findOrder({ token: match.token }) : match.prepayId !== undefined ? store.findOrder({ prepayId: match.prepayId }) : undefined;
      return order === undefined ? undefined : current(order);
    },

    buyer(order, action) {
      if (order.tradeState !== 'NOTPAY') return { ok: false, message: `the order is ${order.tradeState}` };
      switch (action) {
        case 'pay':
          order.tradeState = 'SUCCESS';
          order.tradeStateDesc = '支付成功';
          order.transactionId = `4200${randomDigits(24)}`;
          order.successTime = now();
          order.payerOpenId = order.openId ?? `o${randomString(27)}`;
          store.saveOrder(order);
          notifier.send({ url: order.notifyUrl, eventType: 'TRANSACTION.SUCCESS', summary: '支付成功', originalType: 'transaction', resource: transactionJson(order) });
          return { ok: true };
        case 'decline':
          order.tradeState = 'PAYERROR';
          order.tradeStateDesc = '支付失败，请重新下单支付';
          store.saveOrder(order);
          return { ok: true };
        case 'walk_away':
          order.walkedAwayAt = now();
          store.saveOrder(order);
          return { ok: true };
        default:
          return { ok: false, message: 'unknown action' };
      }
    },

    stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
