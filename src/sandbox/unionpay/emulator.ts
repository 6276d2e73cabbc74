/**
 * The UnionPay ACP 5.1.0 emulator: frontTransReq.do (the browser's cashier), backTransReq.do (refund
 * 04, cancel 31), queryTrans.do, back notifications with resends, fault switches, a daily bill and a
 * health check, as one Fastify plugin. It verifies every request with the merchant certificate it
 * issued (wrong signature → respCode 11) and signs every answer with its UnionPay-shaped signing
 * certificate, carried in `signPubKeyCert` as 5.1.0 does.
 */
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Secret } from '../../kernel/index.ts';
import { acpAnswerText, acpSign, acpVerify, beijingTime, fromBeijingTime, parseFormBody, type Fields } from './acp.ts';
import { dailyBill } from './bill.ts';
import { createFaults, isFault, type ApiFault, type UnionPayFaults } from './faults.ts';
import { createNotifier, defaultRetryMinutes, type NotificationDelivery } from './notifier.ts';
import { cashierPage, messagePage, returnToMerchantPage } from './pages.ts';
import { issueAcpPki, issueCertificate, type AcpPki, type IssuedCertificate } from './pki.ts';
import { createMemoryStore, type AcpTransaction, type BackTransaction, type ConsumeTransaction, type UnionPayStore } from './store.ts';

export interface UnionPayEmulatorOptions {
  /** Where the host app is reachable from the adapter and the browser, e.g. `http://127.0.0.1:4000`. A function when it is known only after listen(). */
  readonly publicUrl: string | (() => string);
  /** Default `/sandbox/unionpay`. */
  readonly prefix?: string;
  readonly now?: () => Date;
  /** Divides every notification delay and timeout (60 turns a minute into a second). Default 1. */
  readonly clockScale?: number;
  /** The one merchant the emulator knows. Default the ACP demo merId `777290058110048`. */
  readonly merId?: string;
  /** Minutes between notification sends; default 1, 2, 4, 5 (see notifier.ts). */
  readonly retryMinutes?: readonly number[];
  readonly store?: UnionPayStore;
}

/** Structurally what the UnionPay adapter's UnionPayCredentials asks for. */
export interface UnionPayEmulatorCredentials {
  readonly merId: string;
  readonly signCertPrivateKey: Secret<string>;
  readonly signCertId: string;
  readonly rootCertPem: string;
  readonly middleCertPem: string;
  readonly frontTransUrl: string;
  readonly backTransUrl: string;
  readonly singleQueryUrl: string;
}

export interface UnionPayEmulator {
  readonly plugin: FastifyPluginAsync;
  readonly prefix: string;
  credentials(): UnionPayEmulatorCredentials;
  /** The emulator's CA and signing certificate, and the merchant certificate it issued (for tests). */
  readonly pki: AcpPki & { readonly merchant: IssuedCertificate };
  readonly faults: UnionPayFaults;
  readonly notifications: {
    deliveries(): readonly NotificationDelivery[];
    flushHeld(): void;
    idle(): Promise<void>;
  };
  transactions(): readonly AcpTransaction[];
  /** The daily reconciliation CSV (bill.ts) for a Beijing date `yyyyMMdd`. */
  bill(date: string): string;
  /** Stops resends and releases hung requests. */
  stop(): void;
}

const respMessages: Readonly<Record<string, string>> = {
  '00': '成功[0000000]',
  '03': '交易通讯超时，请发起查询交易[0300000]',
  '10': '报文格式错误[1000000]',
  '11': '验证签名失败[1100000]',
  '12': '重复交易[1200000]',
  '13': '报文交易要素缺失[1300000]',
  '32': '无此交易权限[3200000]',
  '33': '交易金额超限[3300000]',
  '34': '查无此交易[3400000]',
  '35': '原交易不存在或状态不正确[3500000]',
  '36': '与原交易信息不符[3600000]',
  '60': '交易失败，详情请咨询您的发卡行[6000000]',
};
const msg = (code: string) => respMessages[code] ?? `[${code}]`;

const orderIdPattern = /^[0-9A-Za-z]{8,40}$/;
const amountPattern = /^[1-9]\d{0,11}$/;

class AcpRefusal extends Error {
  readonly respCode: string;
  constructor(respCode: string, detail: string) {
    super(detail);
    this.respCode = respCode;
  }
}

export async function createUnionPayEmulator(options: UnionPayEmulatorOptions): Promise<UnionPayEmulator> {
  const prefix = (options.prefix ?? '/sandbox/unionpay').replace(/\/+$/, '');
  const now = options.now ?? (() => new Date());
  const clockScale = options.clockScale ?? 1;
  if (!(clockScale > 0)) throw new RangeError('clockScale must be positive');
  const merId = options.merId ?? '777290058110048';
  const publicUrl = () => (typeof options.publicUrl === 'function' ? options.publicUrl() : options.publicUrl).replace(/\/+$/, '');
  const store = options.store ?? createMemoryStore();
  const faults = createFaults();
  const notifier = createNotifier({ faults, now, clockScale, retryMinutes: options.retryMinutes ?? defaultRetryMinutes });

  const pki = await issueAcpPki({ now: now(), label: 'Fenpay sandbox UnionPay' });
  // A look-alike chain under a root nobody trusts, for the untrusted_cert fault.
  const foreign = await issueAcpPki({ now: now(), label: 'Untrusted look-alike' });
  const merchant = await issueCertificate({
    commonName: `041@Z${merId}@Fenpay sandbox merchant@00000001`,
    issuer: pki.middle,
    ca: false,
    notBefore: pki.signing.certificate.notBefore,
    notAfter: pki.signing.certificate.notAfter,
  });
  const merchantKey: KeyObject = createPublicKey(merchant.certPem);
  const signingKey = createPrivateKey(pki.signing.keyPem);
  const foreignKey = createPrivateKey(foreign.signing.keyPem);

  const hangs = new Set<() => void>();
  let sequence = 0;
  const nextSequence = () => {
    sequence += 1;
    return sequence;
  };
  const newQueryId = () => `${beijingTime(now()).slice(2)}${nextSequence().toString().padStart(9, '0')}`;

  /** Adds the certificate and signature; a fault may spoil either. */
  function signAnswer(fields: Fields, fault: ApiFault | undefined = undefined): Fields {
    if (fault === 'untrusted_cert') {
      const withCert = { ...fields, signPubKeyCert: foreign.signing.certPem };
      return { ...withCert, signature: acpSign(withCert, foreignKey) };
    }
    const withCert = { ...fields, signPubKeyCert: pki.signing.certPem };
    const signature = acpSign(withCert, signingKey);
    if (fault === 'bad_signature') {
      const bytes = Buffer.from(signature, 'base64');
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
      return { ...withCert, signature: bytes.toString('base64') };
    }
    return { ...withCert, signature };
  }

  const header = (request: Fields): Fields => ({
    version: '5.1.0',
    encoding: 'UTF-8',
    signMethod: '01',
    txnType: request['txnType'] ?? '',
    txnSubType: request['txnSubType'] ?? '',
    bizType: request['bizType'] ?? '',
    accessType: request['accessType'] ?? '0',
    merId: request['merId'] ?? '',
    orderId: request['orderId'] ?? '',
    txnTime: request['txnTime'] ?? '',
  });

  /** Checks what every request must have, then the merchant's signature. */
  function verifyRequest(fields: Fields | undefined, required: readonly string[]): Fields {
    if (fields === undefined) throw new AcpRefusal('10', 'the body is not a form or repeats a field');
    for (const name of ['version', 'encoding', 'signMethod', 'txnType', 'merId', 'certId', 'signature', 'orderId', 'txnTime', ...required]) {
      if ((fields[name] ?? '') === '') throw new AcpRefusal('13', `${name} is missing`);
    }
    if (fields['version'] !== '5.1.0' || fields['signMethod'] !== '01') throw new AcpRefusal('10', 'only version 5.1.0 with signMethod 01 is emulated');
    if (fields['merId'] !== merId) throw new AcpRefusal('32', 'unknown merchant');
    if (fields['certId'] !== merchant.certId || !acpVerify(fields, merchantKey)) throw new AcpRefusal('11', 'the signature does not verify with the merchant certificate');
    if (!orderIdPattern.test(fields['orderId'] ?? '')) throw new AcpRefusal('10', 'orderId is 8–40 letters and digits');
    if (fromBeijingTime(fields['txnTime'] ?? '') === undefined) throw new AcpRefusal('10', 'txnTime is yyyyMMddHHmmss');
    return fields;
  }

  function notifyFields(t: ConsumeTransaction | BackTransaction): Fields {
    const fields: Fields = {
      version: '5.1.0',
      encoding: 'UTF-8',
      signMethod: '01',
      txnType: t.txnType,
      txnSubType: t.txnType === '01' ? '01' : '00',
      bizType: '000201',
      accessType: '0',
      merId: t.merId,
      orderId: t.orderId,
      txnTime: t.txnTime,
      txnAmt: t.txnAmt.toString(),
      currencyCode: t.currencyCode,
      queryId: t.queryId ?? '',
      respCode: t.respCode ?? '',
      respMsg: t.respMsg ?? '',
      settleAmt: t.txnAmt.toString(),
      settleCurrencyCode: t.currencyCode,
      settleDate: t.settleDate ?? '',
      traceNo: t.traceNo ?? '',
      traceTime: t.traceTime ?? '',
    };
    if (t.txnType !== '01') fields['origQryId'] = t.origQryId;
    if (t.reqReserved !== undefined) fields['reqReserved'] = t.reqReserved;
    return signAnswer(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== '')));
  }

  function notify(t: ConsumeTransaction | BackTransaction) {
    if (t.backUrl !== undefined) notifier.send(t.backUrl, notifyFields(t));
  }

  function stamp(): { traceNo: string; traceTime: string; settleDate: string } {
    const at = beijingTime(now());
    return { traceNo: (nextSequence() % 1_000_000).toString().padStart(6, '0'), traceTime: at.slice(4), settleDate: at.slice(4, 8) };
  }

  // ---- the browser side -------------------------------------------------------------------------

  function frontTrans(fields: Fields | undefined): { status: number; html: string } {
    let request: Fields;
    try {
      request = verifyRequest(fields, ['txnSubType', 'bizType', 'channelType', 'txnAmt', 'currencyCode', 'backUrl']);
      if (request['txnType'] !== '01' || request['txnSubType'] !== '01' || request['bizType'] !== '000201') throw new AcpRefusal('32', 'only the gateway consume (01/01/000201) is emulated');
      if (!['07', '08'].includes(request['channelType'] ?? '')) throw new AcpRefusal('10', 'channelType is 07 or 08');
      if (!amountPattern.test(request['txnAmt'] ?? '')) throw new AcpRefusal('10', 'txnAmt is positive integer fen');
      if (request['currencyCode'] !== '156') throw new AcpRefusal('10', 'currencyCode is 156');
      if (request['payTimeout'] !== undefined && fromBeijingTime(request['payTimeout']) === undefined) throw new AcpRefusal('10', 'payTimeout is yyyyMMddHHmmss');
    } catch (error) {
      if (!(error instanceof AcpRefusal)) throw error;
      return { status: 400, html: messagePage(`交易失败 ${msg(error.respCode)}`, `Transaction refused (respCode ${error.respCode})`, error.message) };
    }
    const orderId = request['orderId'] ?? '';
    const txnTime = request['txnTime'] ?? '';
    let consume = store.find(merId, orderId, txnTime);
    if (consume === undefined) {
      if (store.anyWithOrderId(merId, orderId) !== undefined) {
        return { status: 400, html: messagePage(`交易失败 ${msg('12')}`, 'Transaction refused (respCode 12)', 'this orderId was used before') };
      }
      const payTimeout = request['payTimeout'];
      consume = {
        txnType: '01',
        merId,
        orderId,
        txnTime,
        txnAmt: BigInt(request['txnAmt'] ?? '0'),
        currencyCode: '156',
        channelType: request['channelType'] ?? '07',
        backUrl: request['backUrl'],
        frontUrl: request['frontUrl'],
        payTimeout: payTimeout === undefined ? undefined : fromBeijingTime(payTimeout),
        orderDesc: request['orderDesc'],
        reqReserved: request['reqReserved'],
        createdAt: now(),
        token: randomBytes(18).toString('base64url'),
        status: 'awaiting_buyer',
        queryId: undefined,
        respCode: undefined,
        respMsg: undefined,
        traceNo: undefined,
        traceTime: undefined,
        settleDate: undefined,
        completedAt: undefined,
        amountRefunded: 0n,
        canceled: false,
      };
      store.put(consume);
    }
    if (consume.txnType !== '01' || consume.status !== 'awaiting_buyer') {
      return { status: 409, html: messagePage('订单已处理', 'This order has already been handled.') };
    }
    return {
      status: 200,
      html: cashierPage({
        actionUrl: `${prefix}/cashier/${consume.token}`,
        merId,
        orderId,
        txnAmt: consume.txnAmt,
        orderDesc: consume.orderDesc,
        payTimeout: request['payTimeout'],
      }),
    };
  }

  function buyerChoice(token: string, action: string): { status: number; html: string } {
    const consume = store.byToken(token);
    if (consume === undefined) return { status: 404, html: messagePage('找不到订单', 'No such order.') };
    if (consume.status !== 'awaiting_buyer') return { status: 409, html: messagePage('订单已处理', 'This order has already been handled.') };
    if (action === 'walk_away') {
      // The buyer closed the tab: UnionPay records nothing, so a query keeps answering 34.
      consume.status = 'walked_away';
      return { status: 200, html: messagePage('您已离开，未扣款', 'You left the payment. Nothing was charged.') };
    }
    if (action !== 'approve' && action !== 'decline') return { status: 400, html: messagePage('无效操作', 'Unknown action.') };
    if (action === 'approve' && consume.payTimeout !== undefined && now().getTime() > consume.payTimeout.getTime()) {
      return { status: 410, html: messagePage('订单已超时', 'This order has expired (payTimeout passed).') };
    }
    const { traceNo, traceTime, settleDate } = stamp();
    const approved = action === 'approve';
    Object.assign(consume, {
      status: approved ? 'paid' : 'declined',
      queryId: newQueryId(),
      respCode: approved ? '00' : '60',
      respMsg: msg(approved ? '00' : '60'),
      traceNo,
      traceTime,
      settleDate,
      completedAt: now(),
    } satisfies Partial<ConsumeTransaction>);
    store.put(consume);
    // UnionPay notifies the merchant's backUrl of a successful payment; a declined card is shown to
    // the buyer (who may try another) and found by query.
    if (approved) notify(consume);
    const fields = notifyFields(consume);
    const [zh, en] = approved ? ['支付成功', 'Payment approved'] : ['支付失败', 'Payment declined'];
    if (consume.frontUrl === undefined) return { status: 200, html: messagePage(zh, en) };
    return { status: 200, html: returnToMerchantPage(consume.frontUrl, fields, zh, en) };
  }

  // ---- the server side --------------------------------------------------------------------------

  function backTrans(fields: Fields | undefined): Fields {
    const request = verifyRequest(fields, ['txnSubType', 'bizType', 'txnAmt', 'currencyCode', 'origQryId', 'backUrl']);
    const txnType = request['txnType'];
    if (txnType !== '04' && txnType !== '31') throw new AcpRefusal('32', 'backTransReq.do emulates refund (04) and cancel (31)');
    if (!amountPattern.test(request['txnAmt'] ?? '')) throw new AcpRefusal('10', 'txnAmt is positive integer fen');
    if (request['currencyCode'] !== '156') throw new AcpRefusal('10', 'currencyCode is 156');
    const orderId = request['orderId'] ?? '';
    if (store.anyWithOrderId(merId, orderId) !== undefined) throw new AcpRefusal('12', 'this orderId was used before');
    const original = store.byQueryId(request['origQryId'] ?? '');
    if (original?.txnType !== '01' || original.merId !== merId || original.status !== 'paid' || original.canceled) {
      throw new AcpRefusal('35', 'the original is not a paid, uncanceled consume of this merchant');
    }
    const amount = BigInt(request['txnAmt'] ?? '0');
    if (txnType === '04') {
      if (original.amountRefunded + amount > original.txnAmt) throw new AcpRefusal('33', 'the refunds would exceed the paid amount');
      original.amountRefunded += amount;
    } else {
      if (amount !== original.txnAmt) throw new AcpRefusal('36', 'a cancel is for the full amount');
      if (original.amountRefunded > 0n) throw new AcpRefusal('35', 'a refunded consume cannot be canceled');
      const paidDay = beijingTime(original.completedAt ?? original.createdAt).slice(0, 8);
      if (paidDay !== beijingTime(now()).slice(0, 8)) throw new AcpRefusal('35', 'a cancel is possible only on the day of the payment');
      original.canceled = true;
    }
    store.put(original);
    const done: BackTransaction = {
      txnType,
      merId,
      orderId,
      txnTime: request['txnTime'] ?? '',
      txnAmt: amount,
      currencyCode: '156',
      backUrl: request['backUrl'],
      reqReserved: request['reqReserved'],
      createdAt: now(),
      origQryId: original.queryId ?? '',
      queryId: newQueryId(),
      respCode: '00',
      respMsg: msg('00'),
      ...stamp(),
    };
    store.put(done);
    notify(done);
    const answer: Fields = { ...header(request), txnAmt: done.txnAmt.toString(), currencyCode: '156', origQryId: done.origQryId, queryId: done.queryId, respCode: '00', respMsg: msg('00') };
    if (done.reqReserved !== undefined) answer['reqReserved'] = done.reqReserved;
    return answer;
  }

  function queryTrans(fields: Fields | undefined): Fields {
    const request = verifyRequest(fields, []);
    if (request['txnType'] !== '00') throw new AcpRefusal('32', 'queryTrans.do answers txnType 00');
    const found = store.find(merId, request['orderId'] ?? '', request['txnTime'] ?? '');
    // A front order the buyer has not paid is not a transaction at UnionPay yet.
    if (found === undefined || (found.txnType === '01' && (found.status === 'awaiting_buyer' || found.status === 'walked_away'))) {
      return { ...header(request), respCode: '34', respMsg: msg('34') };
    }
    const answer: Fields = {
      ...header(request),
      respCode: '00',
      respMsg: msg('00'),
      origRespCode: found.respCode ?? '',
      origRespMsg: found.respMsg ?? '',
      queryId: found.queryId ?? '',
      txnAmt: found.txnAmt.toString(),
      currencyCode: found.currencyCode,
      settleAmt: found.txnAmt.toString(),
      settleCurrencyCode: found.currencyCode,
      settleDate: found.settleDate ?? '',
      traceNo: found.traceNo ?? '',
      traceTime: found.traceTime ?? '',
    };
    if (found.txnType !== '01') answer['origQryId'] = found.origQryId;
    if (found.reqReserved !== undefined) answer['reqReserved'] = found.reqReserved;
    return Object.fromEntries(Object.entries(answer).filter(([, v]) => v !== ''));
  }

  async function serveApi(request: FastifyRequest, reply: FastifyReply, handle: (fields: Fields | undefined) => Fields) {
    const fault = faults.takeApi();
    if (fault === 'http_500') return reply.code(500).type('text/plain; charset=utf-8').send('System Error');
    const fields = typeof request.body === 'string' ? parseFormBody(request.body) : undefined;
    if (fault === 'resp_code_03') {
      return reply.type('text/plain; charset=utf-8').send(acpAnswerText(signAnswer({ ...header(fields ?? {}), respCode: '03', respMsg: msg('03') })));
    }
    let answer: Fields;
    try {
      answer = handle(fields);
    } catch (error) {
      if (!(error instanceof AcpRefusal)) throw error;
      answer = { ...header(fields ?? {}), respCode: error.respCode, respMsg: `${msg(error.respCode)} ${error.message}` };
    }
    if (fault === 'hang') {
      // The work is done; the answer is lost. The caller times out and must find out by query.
      reply.hijack();
      const socket = request.raw.socket;
      await new Promise<void>((resolve) => {
        hangs.add(resolve);
        socket.once('close', () => resolve());
      });
      socket.destroy();
      return reply;
    }
    return reply.type('text/plain; charset=utf-8').send(acpAnswerText(signAnswer(answer, fault)));
  }

  const html = (reply: FastifyReply, result: { status: number; html: string }) =>
    reply.code(result.status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(result.html);

  const plugin: FastifyPluginAsync = async (instance: FastifyInstance) => {
    // ACP bodies are forms whose exact bytes matter; this scope reads them as strings itself.
    const form = 'application/x-www-form-urlencoded';
    if (instance.hasContentTypeParser(form)) instance.removeContentTypeParser(form);
    instance.addContentTypeParser(form, { parseAs: 'string', bodyLimit: 256 * 1024 }, (_request, body, done) => done(null, body));

    instance.post(`${prefix}/frontTransReq.do`, async (request, reply) => html(reply, frontTrans(typeof request.body === 'string' ? parseFormBody(request.body) : undefined)));
    instance.post<{ Params: { token: string } }>(`${prefix}/cashier/:token`, async (request, reply) => {
      const fields = typeof request.body === 'string' ? parseFormBody(request.body) : undefined;
      return html(reply, buyerChoice(request.params.token, fields?.['action'] ?? ''));
    });
    instance.post(`${prefix}/backTransReq.do`, (request, reply) => serveApi(request, reply, backTrans));
    instance.post(`${prefix}/queryTrans.do`, (request, reply) => serveApi(request, reply, queryTrans));

    instance.get(`${prefix}/health`, async () => ({ status: 'ok', protocol: 'ACP 5.1.0', merId, transactions: store.all().length, faults: faults.pending() }));
    instance.get<{ Params: { date: string } }>(`${prefix}/bills/:date`, async (request, reply) => {
      if (!/^\d{8}$/.test(request.params.date)) return reply.code(400).send({ error: 'date is yyyyMMdd (Beijing)' });
      return reply.type('text/csv; charset=utf-8').send(dailyBill(store.all(), merId, request.params.date));
    });

    const control = `${prefix}/_control`;
    instance.get(`${control}/faults`, async () => faults.pending());
    instance.post(`${control}/faults`, async (request, reply) => {
      const body = typeof request.body === 'string' ? (parseFormBody(request.body) ?? {}) : ((request.body ?? {}) as Record<string, unknown>);
      const fault = body['fault'];
      const count = body['count'] === undefined ? 1 : Number(body['count']);
      if (!isFault(fault) || !Number.isInteger(count) || count < 1) return reply.code(400).send({ error: 'fault must be a known fault and count a positive integer' });
      faults.inject(fault, count);
      return faults.pending();
    });
    instance.delete(`${control}/faults`, async () => {
      faults.clear();
      return faults.pending();
    });
    instance.get(`${control}/notifications`, async () => notifier.deliveries());
    instance.post(`${control}/notifications/flush`, async () => {
      notifier.flushHeld();
      return { flushed: true };
    });
    instance.get(`${control}/transactions`, async () =>
      store.all().map((t) => ({ ...t, txnAmt: t.txnAmt.toString(), ...(t.txnType === '01' ? { amountRefunded: t.amountRefunded.toString(), token: undefined } : {}) })),
    );
  };

  return {
    plugin,
    prefix,
    pki: { ...pki, merchant },
    faults,
    notifications: { deliveries: () => notifier.deliveries(), flushHeld: () => notifier.flushHeld(), idle: () => notifier.idle() },
    credentials: () => ({
      merId,
      signCertPrivateKey: new Secret(merchant.keyPem),
      signCertId: merchant.certId,
      rootCertPem: pki.root.certPem,
      middleCertPem: pki.middle.certPem,
      frontTransUrl: `${publicUrl()}${prefix}/frontTransReq.do`,
      backTransUrl: `${publicUrl()}${prefix}/backTransReq.do`,
      singleQueryUrl: `${publicUrl()}${prefix}/queryTrans.do`,
    }),
    transactions: () => store.all(),
    bill: (date) => dailyBill(store.all(), merId, date),
    stop() {
      notifier.stop();
      for (const release of hangs) release();
      hangs.clear();
    },
  };
}
