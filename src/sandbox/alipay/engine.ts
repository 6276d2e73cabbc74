/**
 * What Alipay does with a verified call: the trade state machine with its quirks (a precreated QR
 * trade does not exist until scanned; TRADE_CLOSED both for unpaid and for fully refunded trades;
 * refunds idempotent on out_request_no and never above what was paid; an unknown refund queried
 * answers 10000 with nothing in it), the buyer's actions, expiry, and the notifications each
 * change sends. Pure of HTTP: the plugin in emulator.ts calls it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { buildTradeBill, type TradeBill } from './bill.ts';
import { formatYuan, parseYuan, tradeAmountMaxFen, tradeAmountMinFen } from './money.ts';
import type { Notifier } from './notifier.ts';
import { beijingDate, beijingDateTime, beijingDayStart, parseBeijingDateTime } from './time.ts';
import { amountRefunded, productMethods, type AlipayTradeStore, type Trade, type TradeProduct } from './trades.ts';

export type ApiAnswer = Readonly<Record<string, unknown>>;

export interface EngineOptions {
  readonly store: AlipayTradeStore;
  readonly notifier: Notifier;
  readonly now: () => Date;
  readonly appId: string;
  readonly pid: string;
  readonly sellerEmail: string;
  /** The emulator's public base URL including its prefix, e.g. http://localhost:4000/sandbox/alipay. */
  readonly baseUrl: () => string;
  readonly feeBps: bigint;
  /** How long a bill download URL stays valid (Alipay: 30 s). */
  readonly billUrlTtlMs: number;
}

export type BuyerAction = 'approve' | 'decline' | 'walk_away';

export interface Engine {
  readonly apiMethods: readonly string[];
  api(method: string, biz: Readonly<Record<string, unknown>>, common: Readonly<Record<string, string>>): ApiAnswer;
  /** The buyer opens a page, WAP or app order: the trade exists from now on. */
  openOrder(product: Exclude<TradeProduct, 'precreate'>, biz: Readonly<Record<string, unknown>>, common: Readonly<Record<string, string>>): { readonly trade: Trade } | { readonly error: ApiAnswer };
  /** The buyer scans a QR code: a precreated trade starts to exist. */
  scan(token: string): Trade | undefined;
  buyer(token: string, action: BuyerAction): Trade | undefined;
  expireDue(): void;
  /** Alipay's signed synchronous-return parameters for a paid page or WAP trade (without `sign`). */
  returnParams(trade: Trade): Record<string, string>;
  bill(query: URLSearchParams): { readonly bill: TradeBill } | { readonly status: number; readonly message: string };
}

const ok = (fields: Readonly<Record<string, unknown>>): ApiAnswer => ({ code: '10000', msg: 'Success', ...fields });

export function businessError(subCode: string, subMsg: string): ApiAnswer {
  return { code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: subMsg };
}

const tradeNotExist = () => businessError('ACQ.TRADE_NOT_EXIST', '交易不存在');
const invalidParameter = (what: string) => businessError('ACQ.INVALID_PARAMETER', `参数无效: ${what}`);

function text(biz: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = biz[key];
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

const outTradeNoPattern = /^[A-Za-z0-9_\-.]{1,64}$/;
const buyerId = '2088102146225135';
const buyerLogonId = 'fen***@sandbox.alipay';

/** "90m", "2h", "1d", "1c" (today), Alipay's relative timeouts. */
function parseTimeoutExpress(value: string, from: Date): Date | undefined {
  const match = /^(\d{1,5})([mhdc])$/.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2];
  if (unit === 'c') return beijingDayStart(beijingDate(new Date(from.getTime() + 24 * 60 * 60 * 1000)));
  const minutes = unit === 'm' ? amount : unit === 'h' ? amount * 60 : amount * 24 * 60;
  return new Date(from.getTime() + minutes * 60_000);
}

export function createEngine(options: EngineOptions): Engine {
  const { store, notifier, now } = options;
  let sequence = 0;
  const billSecret = randomBytes(32);

  function newTradeNo(at: Date): string {
    sequence += 1;
    return `${beijingDate(at).replaceAll('-', '')}22001${(Date.now() % 1_000_000).toString().padStart(6, '0')}${sequence.toString().padStart(9, '0')}`;
  }

  function tradeFields(trade: Trade): Record<string, string> {
    const fields: Record<string, string> = {
      app_id: options.appId,
      auth_app_id: options.appId,
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      trade_status: trade.status,
      total_amount: formatYuan(trade.totalAmount),
      subject: trade.subject,
      gmt_create: beijingDateTime(trade.createdAt),
      seller_id: options.pid,
      seller_email: options.sellerEmail,
    };
    if (trade.body !== undefined) fields.body = trade.body;
    if (trade.passbackParams !== undefined) fields.passback_params = trade.passbackParams;
    if (trade.buyerId !== undefined) fields.buyer_id = trade.buyerId;
    if (trade.buyerLogonId !== undefined) fields.buyer_logon_id = trade.buyerLogonId;
    if (trade.paidAt !== undefined) {
      const paid = formatYuan(trade.totalAmount);
      fields.gmt_payment = beijingDateTime(trade.paidAt);
      fields.receipt_amount = paid;
      fields.invoice_amount = paid;
      fields.buyer_pay_amount = paid;
      fields.point_amount = '0.00';
      fields.fund_bill_list = JSON.stringify([{ amount: paid, fundChannel: 'ALIPAYACCOUNT' }]);
    }
    if (trade.closedAt !== undefined) fields.gmt_close = beijingDateTime(trade.closedAt);
    return fields;
  }

  /** Alipay notifies TRADE_SUCCESS, TRADE_FINISHED and TRADE_CLOSED, never WAIT_BUYER_PAY; only trades that exist. */
  function notify(trade: Trade, extra: Readonly<Record<string, string>> = {}): void {
    if (trade.notifyUrl === undefined || !trade.visible || trade.status === 'WAIT_BUYER_PAY') return;
    notifier.send(trade.notifyUrl, { ...tradeFields(trade), ...extra });
  }

  function close(trade: Trade): void {
    trade.status = 'TRADE_CLOSED';
    trade.closedAt = now();
    notify(trade);
  }

  function find(biz: Readonly<Record<string, unknown>>): Trade | undefined {
    const tradeNo = text(biz, 'trade_no');
    const outTradeNo = text(biz, 'out_trade_no');
    if (tradeNo !== undefined) return store.byTradeNo(tradeNo);
    if (outTradeNo !== undefined) return store.byOutTradeNo(outTradeNo);
    return undefined;
  }

  /** Validates a new order's fields; the same rules for precreate and the page methods. */
  function newOrder(product: TradeProduct, biz: Readonly<Record<string, unknown>>, common: Readonly<Record<string, string>>): { readonly trade: Trade; readonly existing: boolean } | { readonly error: ApiAnswer } {
    const outTradeNo = text(biz, 'out_trade_no');
    if (outTradeNo === undefined || !outTradeNoPattern.test(outTradeNo)) return { error: invalidParameter('out_trade_no') };
    const amountText = text(biz, 'total_amount');
    const amount = amountText === undefined ? undefined : parseYuan(amountText);
    if (amount === undefined || amount < tradeAmountMinFen) return { error: invalidParameter('total_amount') };
    if (amount > tradeAmountMaxFen) return { error: businessError('ACQ.TOTAL_FEE_EXCEED', '订单金额超过限额') };
    const subject = text(biz, 'subject');
    if (subject === undefined || subject.length > 256) return { error: invalidParameter('subject') };
    const productCode = text(biz, 'product_code');
    if (product !== 'precreate' && productCode !== undefined && productCode !== productMethods[product].productCode) {
      return { error: businessError('ACQ.PRODUCT_CODE_ERROR', `产品码错误: ${productCode}`) };
    }
    const existing = store.byOutTradeNo(outTradeNo);
    if (existing !== undefined) {
      if (existing.totalAmount !== amount) return { error: businessError('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改') };
      if (existing.status === 'TRADE_SUCCESS' || existing.status === 'TRADE_FINISHED' || existing.paidAt !== undefined) {
        return { error: businessError('ACQ.TRADE_HAS_SUCCESS', '交易已被支付') };
      }
      if (existing.status === 'TRADE_CLOSED') return { error: businessError('ACQ.TRADE_HAS_CLOSE', '交易已经关闭') };
      return { trade: existing, existing: true };
    }
    const createdAt = now();
    let expiresAt: Date | undefined;
    const timeExpire = text(biz, 'time_expire');
    if (timeExpire !== undefined) {
      expiresAt = parseBeijingDateTime(timeExpire);
      if (expiresAt === undefined) return { error: invalidParameter('time_expire') };
    } else {
      const express = text(biz, 'timeout_express') ?? text(biz, 'qr_code_timeout_express');
      if (express !== undefined) {
        expiresAt = parseTimeoutExpress(express, createdAt);
        if (expiresAt === undefined) return { error: invalidParameter('timeout_express') };
      }
    }
    const trade: Trade = {
      outTradeNo,
      tradeNo: newTradeNo(createdAt),
      token: randomBytes(18).toString('base64url'),
      product,
      subject,
      body: text(biz, 'body'),
      totalAmount: amount,
      createdAt,
      expiresAt,
      notifyUrl: common.notify_url === '' ? undefined : common.notify_url,
      returnUrl: common.return_url === '' ? undefined : common.return_url,
      quitUrl: text(biz, 'quit_url'),
      passbackParams: text(biz, 'passback_params'),
      status: 'WAIT_BUYER_PAY',
      visible: false,
      paidAt: undefined,
      closedAt: undefined,
      buyerId: undefined,
      buyerLogonId: undefined,
      refunds: [],
    };
    store.save(trade);
    return { trade, existing: false };
  }

  function qrCode(trade: Trade): string {
    return `${options.baseUrl()}/qr/${trade.token}`;
  }

  function precreate(biz: Readonly<Record<string, unknown>>, common: Readonly<Record<string, string>>): ApiAnswer {
    const order = newOrder('precreate', biz, common);
    if ('error' in order) return order.error;
    return ok({ out_trade_no: order.trade.outTradeNo, qr_code: qrCode(order.trade) });
  }

  function query(biz: Readonly<Record<string, unknown>>): ApiAnswer {
    const trade = find(biz);
    if (trade === undefined || !trade.visible) return tradeNotExist();
    const paid = trade.paidAt === undefined ? '0.00' : formatYuan(trade.totalAmount);
    const answer: Record<string, unknown> = {
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      buyer_logon_id: trade.buyerLogonId ?? '',
      trade_status: trade.status,
      total_amount: formatYuan(trade.totalAmount),
      buyer_pay_amount: paid,
      point_amount: '0.00',
      invoice_amount: paid,
      receipt_amount: paid,
      buyer_user_id: trade.buyerId ?? '',
    };
    if (trade.paidAt !== undefined) answer.send_pay_date = beijingDateTime(trade.paidAt);
    return ok(answer);
  }

  function closeTrade(biz: Readonly<Record<string, unknown>>): ApiAnswer {
    const trade = find(biz);
    if (trade === undefined) return tradeNotExist();
    if (!trade.visible) {
      // Alipay cannot see an unscanned QR trade, so it says so; the QR stops working all the same.
      if (trade.status === 'WAIT_BUYER_PAY') close(trade);
      return tradeNotExist();
    }
    if (trade.paidAt !== undefined) return businessError('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    if (trade.status === 'WAIT_BUYER_PAY') close(trade);
    return ok({ trade_no: trade.tradeNo, out_trade_no: trade.outTradeNo });
  }

  function refund(biz: Readonly<Record<string, unknown>>): ApiAnswer {
    const trade = find(biz);
    if (trade === undefined || !trade.visible) return tradeNotExist();
    const outRequestNo = text(biz, 'out_request_no') ?? trade.outTradeNo;
    const amountText = text(biz, 'refund_amount');
    const amount = amountText === undefined ? undefined : parseYuan(amountText);
    const answer = (fundChange: 'Y' | 'N', at: Date) =>
      ok({
        trade_no: trade.tradeNo,
        out_trade_no: trade.outTradeNo,
        buyer_logon_id: trade.buyerLogonId ?? '',
        fund_change: fundChange,
        refund_fee: formatYuan(amountRefunded(trade)),
        gmt_refund_pay: beijingDateTime(at),
        buyer_user_id: trade.buyerId ?? '',
      });
    const previous = trade.refunds.find((r) => r.outRequestNo === outRequestNo);
    // A repeated out_request_no is the same refund: answered again, never paid twice.
    if (previous !== undefined) return answer('N', previous.refundedAt);
    if (amount === undefined || amount <= 0n) return invalidParameter('refund_amount');
    if (trade.status === 'TRADE_FINISHED') return businessError('ACQ.TRADE_HAS_FINISHED', '交易已完结');
    if (trade.status !== 'TRADE_SUCCESS') return businessError('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    if (amountRefunded(trade) + amount > trade.totalAmount) return businessError('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
    const refundedAt = now();
    trade.refunds.push({ outRequestNo, amount, refundedAt, reason: text(biz, 'refund_reason') });
    if (amountRefunded(trade) === trade.totalAmount) {
      trade.status = 'TRADE_CLOSED';
      trade.closedAt = refundedAt;
    }
    notify(trade, { out_biz_no: outRequestNo, refund_fee: formatYuan(amountRefunded(trade)), gmt_refund: `${beijingDateTime(refundedAt)}.000` });
    return answer('Y', refundedAt);
  }

  function refundQuery(biz: Readonly<Record<string, unknown>>): ApiAnswer {
    const trade = find(biz);
    if (trade === undefined || !trade.visible) return tradeNotExist();
    const outRequestNo = text(biz, 'out_request_no');
    if (outRequestNo === undefined) return invalidParameter('out_request_no');
    const found = trade.refunds.find((r) => r.outRequestNo === outRequestNo);
    // Alipay's known trap: an unknown refund is not an error, just a success with nothing in it.
    if (found === undefined) return ok({});
    const answer: Record<string, unknown> = {
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      out_request_no: found.outRequestNo,
      total_amount: formatYuan(trade.totalAmount),
      refund_amount: formatYuan(found.amount),
      refund_status: 'REFUND_SUCCESS',
    };
    const queryOptions = biz.query_options;
    if (Array.isArray(queryOptions) && queryOptions.includes('gmt_refund_pay')) answer.gmt_refund_pay = beijingDateTime(found.refundedAt);
    if (found.reason !== undefined) answer.refund_reason = found.reason;
    return ok(answer);
  }

  function billToken(bizDates: string, timestamp: string): string {
    return createHmac('sha256', billSecret).update(`${bizDates}|${timestamp}`).digest('hex');
  }

  function billUrl(biz: Readonly<Record<string, unknown>>): ApiAnswer {
    const billType = text(biz, 'bill_type');
    if (billType !== 'trade') return businessError('isp.bill_type_not_support', `不支持的账单类型: ${billType ?? ''}`);
    const billDate = text(biz, 'bill_date');
    const dayStart = billDate === undefined ? undefined : beijingDayStart(billDate);
    if (billDate === undefined || dayStart === undefined) return businessError('isv.invalid-bill-date', '账单日期格式不正确');
    // A day's bill exists only once the day is over (Beijing time).
    if (beijingDate(now()) <= billDate) return businessError('isp.bill_not_exist', '账单不存在');
    const bizDates = billDate.replaceAll('-', '');
    const timestamp = now().getTime().toString();
    const url = new URL(`${options.baseUrl()}/downloadBillFile.resource`);
    url.searchParams.set('bizType', 'trade');
    url.searchParams.set('userId', options.pid);
    url.searchParams.set('fileType', 'csv.zip');
    url.searchParams.set('bizDates', bizDates);
    url.searchParams.set('downloadFileName', `${options.pid}0156_${bizDates}.csv.zip`);
    url.searchParams.set('timestamp', timestamp);
    url.searchParams.set('token', billToken(bizDates, timestamp));
    return ok({ bill_download_url: url.toString() });
  }

  const handlers: Record<string, (biz: Readonly<Record<string, unknown>>, common: Readonly<Record<string, string>>) => ApiAnswer> = {
    'alipay.trade.precreate': precreate,
    'alipay.trade.query': query,
    'alipay.trade.close': closeTrade,
    'alipay.trade.refund': refund,
    'alipay.trade.fastpay.refund.query': refundQuery,
    'alipay.data.dataservice.bill.downloadurl.query': billUrl,
  };

  function expireDue(): void {
    const at = now().getTime();
    for (const trade of store.all()) {
      if (trade.status === 'WAIT_BUYER_PAY' && trade.expiresAt !== undefined && trade.expiresAt.getTime() <= at) close(trade);
    }
  }

  function buyerSees(trade: Trade): void {
    if (trade.visible) return;
    trade.visible = true;
    trade.buyerId = buyerId;
    trade.buyerLogonId = buyerLogonId;
  }

  return {
    apiMethods: Object.keys(handlers),
    api(method, biz, common) {
      expireDue();
      const handler = handlers[method];
      if (handler === undefined) return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-method', sub_msg: `不存在的方法名: ${method}` };
      return handler(biz, common);
    },
    openOrder(product, biz, common) {
      expireDue();
      const order = newOrder(product, biz, common);
      if ('error' in order) return order;
      buyerSees(order.trade);
      return { trade: order.trade };
    },
    scan(token) {
      expireDue();
      const trade = store.byToken(token);
      if (trade === undefined) return undefined;
      if (trade.status === 'WAIT_BUYER_PAY') buyerSees(trade);
      return trade;
    },
    buyer(token, action) {
      expireDue();
      const trade = store.byToken(token);
      if (trade === undefined) return undefined;
      if (trade.status !== 'WAIT_BUYER_PAY') return trade;
      buyerSees(trade);
      switch (action) {
        case 'approve':
          trade.status = 'TRADE_SUCCESS';
          trade.paidAt = now();
          notify(trade);
          break;
        case 'decline':
          close(trade);
          break;
        case 'walk_away':
          break;
      }
      return trade;
    },
    expireDue,
    returnParams(trade) {
      return {
        app_id: options.appId,
        auth_app_id: options.appId,
        charset: 'utf-8',
        method: `${productMethods[trade.product].method}.return`,
        out_trade_no: trade.outTradeNo,
        seller_id: options.pid,
        timestamp: beijingDateTime(now()),
        total_amount: formatYuan(trade.totalAmount),
        trade_no: trade.tradeNo,
        version: '1.0',
        sign_type: 'RSA2',
      };
    },
    bill(queryString) {
      const bizDates = queryString.get('bizDates') ?? '';
      const timestamp = queryString.get('timestamp') ?? '';
      const token = queryString.get('token') ?? '';
      const expected = Buffer.from(billToken(bizDates, timestamp));
      const given = Buffer.from(token);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { status: 403, message: 'invalid token' };
      const issuedAt = Number(timestamp);
      if (!Number.isSafeInteger(issuedAt) || now().getTime() - issuedAt > options.billUrlTtlMs) return { status: 403, message: 'url expired' };
      const billDate = `${bizDates.slice(0, 4)}-${bizDates.slice(4, 6)}-${bizDates.slice(6, 8)}`;
      return { bill: buildTradeBill({ pid: options.pid, billDate, trades: store.all(), exportedAt: now(), feeBps: options.feeBps }) };
    },
  };
}
