/**
 * The WeChat Pay API v3 emulator: a Fastify plugin that speaks the real protocol with its own keys.
 * It checks our Authorization signature against the merchant key it issued, signs every answer with
 * its platform key (public-key mode `PUB_KEY_ID_…`, or platform-certificate mode with a real X.509
 * certificate served encrypted at /v3/certificates), keeps orders and refunds in WeChat's states,
 * notifies as WeChat does (encrypted, signed, retried on WeChat's schedule), serves the daily trade
 * bill, and has a buyer page, fault switches and a control API. Everything lives under `prefix`:
 *
 *   POST /v3/pay/transactions/{native|jsapi|h5|app}            create an order
 *   GET  /v3/pay/transactions/out-trade-no/{no}?mchid=          query (also /id/{transaction_id})
 *   POST /v3/pay/transactions/out-trade-no/{no}/close           close (204)
 *   POST /v3/refund/domestic/refunds, GET …/refunds/{no}       refunds
 *   GET  /v3/certificates                                       platform certificates (certificate mode)
 *   GET  /v3/bill/tradebill, GET /v3/billdownload/file          trade bill
 *   GET  /pay?pr=… | ?prepay_id=…, POST /pay                    buyer page (code_url, h5_url)
 *   GET  /health
 *   GET|POST|DELETE /_control/faults, GET /_control/notifications, GET /_control/orders/{no},
 *   POST /_control/orders/{no}/{pay|decline|walk_away}          control API (test mode only; no auth)
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { httpUrlOrUndefined, Secret } from '../../kernel/index.ts';
import { generateRsaKeyPair, issuePlatformCertificate, parseAuthorization, randomApiV3Key, randomDigits, randomSerial, randomString, sign, verify, encryptResource, type PlatformCertificate, type RsaKeyPair } from './crypto.ts';
import { beijingTime, createEngine, type ApiAnswer, type BuyerAction } from './engine.ts';
import { createFaults, isFaultKind, type FaultKind, type WechatPayFaults } from './faults.ts';
import { createNotifier, type DeliveryRecord } from './notifier.ts';
import { buyerPage, resultPage } from './pages.ts';
import { createMemoryStore, type EmulatedOrder, type WechatPayEmulatorStore } from './store.ts';

export { retryScheduleSeconds, type DeliveryRecord } from './notifier.ts';
export { faultKinds, type FaultKind, type WechatPayFaults } from './faults.ts';
export type { EmulatedOrder, EmulatedRefund, WechatPayEmulatorStore } from './store.ts';

export type WechatPayKeyMode = 'public_key' | 'platform_certificate';

export interface WechatPayEmulatorOptions {
  /** Where the emulator is reachable from outside, e.g. `http://127.0.0.1:4000`; a function when the port is known only after listen. */
  readonly publicUrl: string | (() => string);
  readonly prefix?: string;
  readonly now?: () => Date;
  /** Divides WeChat's waits (notification retries, refund settlement): 60 makes a minute a second. */
  readonly clockScale?: number;
  readonly mode?: WechatPayKeyMode;
  readonly store?: WechatPayEmulatorStore;
  /** WeChat-time seconds from a refund request to its outcome. Default 5. */
  readonly refundSettleSeconds?: number;
  readonly mchId?: string;
  readonly appId?: string;
}

/** The shape the adapter's WechatPayCredentials takes. */
export interface WechatPayEmulatorCredentials {
  readonly mchId: string;
  readonly appId: string;
  readonly merchantSerialNo: string;
  readonly merchantPrivateKey: Secret<string>;
  readonly apiV3Key: Secret<string>;
  readonly baseUrl: string;
  readonly platformPublicKey?: string;
  readonly publicKeyId?: string;
}

export interface WechatPayEmulator {
  readonly plugin: FastifyPluginAsync;
  readonly prefix: string;
  readonly mode: WechatPayKeyMode;
  credentials(): WechatPayEmulatorCredentials;
  readonly faults: WechatPayFaults;
  readonly store: WechatPayEmulatorStore;
  /** Acts as the buyer on an order, as the buyer page would. */
  buyer(outTradeNo: string, action: BuyerAction): { ok: true } | { ok: false; message: string };
  notifications(): readonly DeliveryRecord[];
  /** Certificate mode: a new platform key and certificate; answers are signed with it from now on. */
  rotatePlatformCertificate(): Promise<string>;
  /** Stops timers (retries, refunds) and releases hung answers. Call before closing the server. */
  stop(): void;
}

interface PlatformKey {
  readonly keyPair: RsaKeyPair;
  readonly serial: string;
  certificate: Promise<PlatformCertificate> | undefined;
}

const controlFaultBody = (body: unknown): { kind: FaultKind; count: number } | undefined => {
  if (typeof body !== 'object' || body === null) return undefined;
  const { kind, count = 1 } = body as { kind?: unknown; count?: unknown };
  return isFaultKind(kind) && typeof count === 'number' && Number.isSafeInteger(count) && count > 0 ? { kind, count } : undefined;
};

export function createWechatPayEmulator(options: WechatPayEmulatorOptions): WechatPayEmulator {
  const prefix = (options.prefix ?? '/sandbox/wechat-pay').replace(/\/+$/, '');
  const mode = options.mode ?? 'public_key';
  const now = options.now ?? (() => new Date());
  const clockScale = options.clockScale ?? 1;
  const publicUrl = (): string => (typeof options.publicUrl === 'function' ? options.publicUrl() : options.publicUrl).replace(/\/+$/, '');
  const publicBase = (): string => `${publicUrl()}${prefix}`;
  const merchant = { mchId: options.mchId ?? '1900000109', appId: options.appId ?? 'wxd678efh567hg6787' };
  const merchantKey = generateRsaKeyPair();
  const merchantSerialNo = randomSerial();
  const apiV3Key = randomApiV3Key();
  const publicKeyId = `PUB_KEY_ID_01${merchant.mchId}${randomDigits(10)}`;
  const platformKeys: PlatformKey[] = [{ keyPair: generateRsaKeyPair(), serial: mode === 'public_key' ? publicKeyId : randomSerial(), certificate: undefined }];
  const store = options.store ?? createMemoryStore();
  const faults = createFaults();
  const hung = new Set<() => void>();

  const activeKey = (): PlatformKey => platformKeys[platformKeys.length - 1] ?? platformKeys[0]!;

  function certificateOf(key: PlatformKey): Promise<PlatformCertificate> {
    key.certificate ??= issuePlatformCertificate({
      keyPair: key.keyPair,
      serialNo: key.serial,
      notBefore: new Date(now().getTime() - 86_400_000),
      notAfter: new Date(now().getTime() + 5 * 365 * 86_400_000),
    });
    return key.certificate;
  }

  const notifier = createNotifier({
    apiV3Key,
    faults,
    clockScale,
    now,
    beijingTime,
    signer: async () => {
      const key = activeKey();
      return { serial: key.serial, sign: (message) => sign(message, key.keyPair.privateKey) };
    },
  });
  const engine = createEngine({ merchant, store, notifier, faults, now, clockScale, publicBase, refundSettleSeconds: options.refundSettleSeconds ?? 5 });

  /** Answers with WeChat's signature headers over the exact bytes sent. */
  function sendSigned(reply: FastifyReply, answer: ApiAnswer, corrupt = false): FastifyReply {
    const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
    const timestamp = String(Math.floor(now().getTime() / 1000));
    const nonce = randomString(32);
    const key = activeKey();
    const signature = sign(`${timestamp}\n${nonce}\n${corrupt ? `${text} ` : text}\n`, key.keyPair.privateKey);
    return reply
      .code(answer.status)
      .header('Content-Type', 'application/json; charset=utf-8')
      .header('Request-ID', `08${randomString(30)}`)
      .header('Wechatpay-Nonce', nonce)
      .header('Wechatpay-Serial', key.serial)
      .header('Wechatpay-Signature', signature)
      .header('Wechatpay-Timestamp', timestamp)
      .send(text);
  }

  /** The merchant's signature over METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n, within 5 minutes. */
  function authorized(request: FastifyRequest, body: string): boolean {
    const fields = parseAuthorization(request.headers.authorization);
    if (fields === undefined || fields.mchid !== merchant.mchId || fields.serialNo.toUpperCase() !== merchantSerialNo) return false;
    if (!/^\d{1,12}$/.test(fields.timestamp) || Math.abs(Math.floor(now().getTime() / 1000) - Number(fields.timestamp)) >= 300) return false;
    const message = `${request.method}\n${request.raw.url ?? request.url}\n${fields.timestamp}\n${fields.nonceStr}\n${body}\n`;
    return verify(message, fields.signature, merchantKey.publicKey);
  }

  async function api(request: FastifyRequest, reply: FastifyReply, handle: (body: unknown) => ApiAnswer | Promise<ApiAnswer>): Promise<FastifyReply> {
    const raw = typeof request.body === 'string' ? request.body : '';
    if (!authorized(request, raw)) return sendSigned(reply, { status: 401, body: { code: 'SIGN_ERROR', message: '签名错误' } });
    let parsed: unknown;
    if (raw.length > 0) {
      try {
        parsed = JSON.parse(raw);
      } catch {
        return sendSigned(reply, { status: 400, body: { code: 'PARAM_ERROR', message: '请求体不是合法的JSON' } });
      }
    }
    const answer = await handle(parsed);
    const fault = faults.takeApi();
    switch (fault) {
      case undefined:
        return sendSigned(reply, answer);
      case 'http_500':
        return reply.code(500).header('Content-Type', 'text/html').send('<html><body><h1>500 Internal Server Error</h1></body></html>');
      case 'system_error':
        return sendSigned(reply, { status: 500, body: { code: 'SYSTEM_ERROR', message: '系统错误' } });
      case 'bad_signature':
        return sendSigned(reply, answer, true);
      case 'hang':
        await new Promise<void>((resolve) => {
          hung.add(resolve);
          request.raw.socket.once('close', resolve);
        });
        return reply.code(504).send('');
      default:
        return sendSigned(reply, answer);
    }
  }

  const param = (request: FastifyRequest, name: string): string => (request.params as Record<string, string>)[name] ?? '';
  const queryOf = (request: FastifyRequest): Record<string, string | undefined> => request.query as Record<string, string | undefined>;

  function buyerHidden(query: Record<string, string | undefined>): Record<string, string> {
    const hidden: Record<string, string> = {};
    for (const name of ['pr', 'prepay_id', 'redirect_url']) {
      const value = query[name];
      if (value !== undefined) hidden[name] = value;
    }
    return hidden;
  }


  const plugin: FastifyPluginAsync = async (app) => {
    // Signatures cover the raw bytes: this plugin's routes get the body as a string, untouched.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      done(null, body);
    });

    app.post(`${prefix}/v3/pay/transactions/:kind`, async (request, reply) => await api(request, reply, (body) => engine.createOrder(param(request, 'kind'), body)));
    app.get(`${prefix}/v3/pay/transactions/out-trade-no/:no`, async (request, reply) =>
      api(request, reply, () => engine.queryOrder({ outTradeNo: param(request, 'no') }, queryOf(request).mchid)),
    );
    app.get(`${prefix}/v3/pay/transactions/id/:id`, async (request, reply) =>
      api(request, reply, () => engine.queryOrder({ transactionId: param(request, 'id') }, queryOf(request).mchid)),
    );
    app.post(`${prefix}/v3/pay/transactions/out-trade-no/:no/close`, async (request, reply) => api(request, reply, (body) => engine.closeOrder(param(request, 'no'), body)));
    app.post(`${prefix}/v3/refund/domestic/refunds`, async (request, reply) => api(request, reply, (body) => engine.createRefund(body)));
    app.get(`${prefix}/v3/refund/domestic/refunds/:no`, async (request, reply) => api(request, reply, () => engine.queryRefund(param(request, 'no'))));
    app.get(`${prefix}/v3/bill/tradebill`, async (request, reply) =>
      api(request, reply, () => {
        const query = queryOf(request);
        return engine.tradeBill({ ...(query.bill_date === undefined ? {} : { billDate: query.bill_date }), ...(query.bill_type === undefined ? {} : { billType: query.bill_type }) }, publicBase());
      }),
    );
    app.get(`${prefix}/v3/billdownload/file`, async (request, reply) => {
      // Signed request, unsigned answer: the SHA1 in the tradebill answer vouches for the file.
      if (!authorized(request, '')) return sendSigned(reply, { status: 401, body: { code: 'SIGN_ERROR', message: '签名错误' } });
      const file = engine.billFile(queryOf(request).token ?? '');
      if (file === undefined) return sendSigned(reply, { status: 404, body: { code: 'RESOURCE_NOT_EXISTS', message: '账单文件不存在或已过期' } });
      return reply.code(200).header('Content-Type', 'text/csv; charset=utf-8').send(file);
    });
    app.get(`${prefix}/v3/certificates`, async (request, reply) =>
      api(request, reply, async () => {
        if (mode === 'public_key') return { status: 404, body: { code: 'RESOURCE_NOT_EXISTS', message: '证书不存在' } };
        const data = [];
        for (const key of platformKeys) {
          const certificate = await certificateOf(key);
          data.push({
            serial_no: certificate.serialNo,
            effective_time: beijingTime(certificate.notBefore),
            expire_time: beijingTime(certificate.notAfter),
            encrypt_certificate: { ...encryptResource(certificate.pem, apiV3Key, 'certificate') },
          });
        }
        return { status: 200, body: { data } };
      }),
    );

    app.get(`${prefix}/pay`, async (request, reply) => {
      const query = queryOf(request);
      const order = engine.orderForBuyer({ ...(query.pr === undefined ? {} : { token: query.pr }), ...(query.prepay_id === undefined ? {} : { prepayId: query.prepay_id }) });
      if (order === undefined) return reply.code(404).type('text/html; charset=utf-8').send(resultPage(undefined, { en: 'No such order', zh: '订单不存在' }, undefined));
      return reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(buyerPage(order, buyerHidden(query)));
    });
    app.post(`${prefix}/pay`, async (request, reply) => {
      const form = Object.fromEntries(new URLSearchParams(typeof request.body === 'string' ? request.body : ''));
      const order = engine.orderForBuyer({ ...(form.pr === undefined ? {} : { token: form.pr }), ...(form.prepay_id === undefined ? {} : { prepayId: form.prepay_id }) });
      if (order === undefined) return reply.code(404).type('text/html; charset=utf-8').send(resultPage(undefined, { en: 'No such order', zh: '订单不存在' }, undefined));
      const action = form.action;
      if (action !== 'pay' && action !== 'decline' && action !== 'walk_away') return reply.code(400).type('text/html; charset=utf-8').send(resultPage(order, { en: 'Choose an action', zh: '请选择操作' }, undefined));
      const result = engine.buyer(order, action);
      const redirect = httpUrlOrUndefined(form.redirect_url);
      if (!result.ok) return reply.code(409).type('text/html; charset=utf-8').send(resultPage(order, { en: 'This order can no longer be paid', zh: '该订单已无法支付' }, redirect));
      if (redirect !== undefined && action !== 'walk_away') return reply.redirect(redirect, 303);
      const messages = { pay: { en: 'Payment complete', zh: '支付成功' }, decline: { en: 'Payment failed', zh: '支付失败' }, walk_away: { en: 'You left without paying', zh: '您已离开，未支付' } };
      return reply.type('text/html; charset=utf-8').send(resultPage(order, messages[action], redirect));
    });

    app.get(`${prefix}/health`, async () => ({ status: 'ok', mode, orders: store.listOrders().length, refunds: store.listRefunds().length }));

    app.get(`${prefix}/_control/faults`, async () => ({ pending: faults.pending() }));
    app.post(`${prefix}/_control/faults`, async (request, reply) => {
      let body: unknown;
      try {
        body = JSON.parse(typeof request.body === 'string' ? request.body : '');
      } catch {
        body = undefined;
      }
      const fault = controlFaultBody(body);
      if (fault === undefined) return reply.code(400).send({ error: 'expected {"kind": one of the fault kinds, "count": positive integer}' });
      faults.arm(fault.kind, fault.count);
      return { pending: faults.pending() };
    });
    app.delete(`${prefix}/_control/faults`, async () => {
      faults.clear();
      return { pending: faults.pending() };
    });
    app.get(`${prefix}/_control/notifications`, async () => ({ deliveries: notifier.deliveries(), dropped: notifier.dropped() }));
    app.get(`${prefix}/_control/orders/:no`, async (request, reply) => {
      const order = store.getOrder(param(request, 'no'));
      if (order === undefined) return reply.code(404).send({ error: 'no such order' });
      return { order: orderView(order), refunds: store.listRefunds(order.outTradeNo).map((r) => ({ out_refund_no: r.outRefundNo, refund_id: r.refundId, amount: Number(r.amount), status: r.status })) };
    });
    app.post(`${prefix}/_control/orders/:no/:action`, async (request, reply) => {
      const action = param(request, 'action');
      if (action !== 'pay' && action !== 'decline' && action !== 'walk_away') return reply.code(404).send({ error: 'unknown action' });
      const result = emulator.buyer(param(request, 'no'), action);
      return result.ok ? { ok: true } : reply.code(409).send({ error: result.message });
    });
  };

  function orderView(order: EmulatedOrder): Record<string, unknown> {
    return { out_trade_no: order.outTradeNo, trade_type: order.tradeType, trade_state: order.tradeState, total: Number(order.total), transaction_id: order.transactionId ?? null };
  }

  const emulator: WechatPayEmulator = {
    plugin,
    prefix,
    mode,
    faults,
    store,
    credentials() {
      const platform = platformKeys[0]!;
      return {
        mchId: merchant.mchId,
        appId: merchant.appId,
        merchantSerialNo,
        merchantPrivateKey: new Secret(merchantKey.privateKeyPem),
        apiV3Key: new Secret(apiV3Key),
        baseUrl: publicBase(),
        ...(mode === 'public_key' ? { platformPublicKey: platform.keyPair.publicKeyPem, publicKeyId } : {}),
      };
    },
    buyer(outTradeNo, action) {
      const order = store.getOrder(outTradeNo);
      const found = order === undefined ? undefined : engine.orderForBuyer({ token: order.token });
      return found === undefined ? { ok: false, message: 'no such order' } : engine.buyer(found, action);
    },
    notifications: () => notifier.deliveries(),
    async rotatePlatformCertificate() {
      if (mode !== 'platform_certificate') throw new Error('only platform-certificate mode rotates certificates');
      const key: PlatformKey = { keyPair: generateRsaKeyPair(), serial: randomSerial(), certificate: undefined };
      await certificateOf(key);
      platformKeys.push(key);
      return key.serial;
    },
    stop() {
      notifier.stop();
      engine.stop();
      for (const release of hung) release();
      hung.clear();
    },
  };
  return emulator;
}
