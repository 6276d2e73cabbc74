/**
 * The Alipay emulator as an external system: a Fastify plugin that speaks OpenAPI at
 * `<prefix>/gateway.do` (common parameters from the query string and the form body, as alipay-sdk
 * sends them; RSA2 request signatures checked; every answer signed over its exact bytes), serves the
 * buyer's cashier, sends notifications, hands out bill files, and takes fault switches.
 *
 *   GET|POST <prefix>/gateway.do                   OpenAPI calls; page/wap/app orders opened by a browser
 *   GET      <prefix>/qr/:token                    the QR code's content: "scanning" opens the cashier
 *   GET|POST <prefix>/cashier/:token               the buyer's page: action=approve|decline|walk_away
 *   GET      <prefix>/downloadBillFile.resource    the bill zip (URL from bill.downloadurl.query, 30 s)
 *   GET      <prefix>/health                       {"status":"ok"} or 503 during an outage
 *   GET      <prefix>/_control/faults              pending fault switches
 *   POST     <prefix>/_control/faults              JSON {kind, count?, method?, applied?}; kind is http_5xx, timeout,
 *                                                  bad_signature, system_error, duplicate, out_of_order, unreachable,
 *                                                  or {kind: "outage", on: true|false}
 *   DELETE   <prefix>/_control/faults              clear every switch
 *   GET      <prefix>/_control/trades/:outTradeNo  the trade as the emulator sees it
 *   POST     <prefix>/_control/trades/:outTradeNo/:action   scan | approve | decline | walk_away
 *   GET      <prefix>/_control/notifications       every notification and its delivery attempts
 *
 * The control API is unauthenticated, like the rest of the sandbox: register the plugin in test mode only.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { httpUrlOrUndefined, Secret } from '../../kernel/index.ts';
import { createEngine, type ApiAnswer, type BuyerAction, type Engine } from './engine.ts';
import { createFaultBoard, gatewayFaultKinds, notificationFaultKinds, type AlipayFaults, type FaultBoard, type GatewayFaultKind, type NotificationFaultKind } from './faults.ts';
import { formatYuan } from './money.ts';
import { createNotifier, type NotificationRecord, type Notifier } from './notifier.ts';
import { cashierPage, errorPage, notFoundPage, sendHtml, statusPage } from './pages.ts';
import { generateRsaKeyPair, signedResponseText, signNotificationParams, verifyRequestSignature, type RsaKeyPair } from './signing.ts';
import { parseBeijingDateTime } from './time.ts';
import { createMemoryTradeStore, type AlipayTradeStore, type Trade, type TradeProduct } from './trades.ts';

export interface AlipayEmulatorOptions {
  /** Where the emulator is reachable from outside (browsers, the adapter), without the prefix. A function if the port is known only after listen. */
  readonly publicUrl: string | (() => string);
  /** Default '/sandbox/alipay'. */
  readonly prefix?: string;
  readonly now?: () => Date;
  /** Notification retry delays are divided by this (default 1: Alipay's real 4m … 15h). */
  readonly clockScale?: number;
  /** The merchant app's key pair and Alipay's; generated (RSA 2048) when absent. */
  readonly keys?: { readonly app?: RsaKeyPair; readonly alipay?: RsaKeyPair };
  readonly appId?: string;
  /** The merchant's partner id (seller_id), 2088… */
  readonly pid?: string;
  readonly merchantName?: string;
  /** Alipay's service fee in basis points for the bill (default 60 = 0.6%). */
  readonly feeBps?: number;
  /** How long a `timeout` fault holds the answer before dropping the connection (default 60 s). */
  readonly hangMs?: number;
  /** How often unpaid trades past their expiry are closed (default 1 s); 0 disables the timer (expiry then happens on each call). */
  readonly sweepIntervalMs?: number;
  readonly notifyTimeoutMs?: number;
  readonly store?: AlipayTradeStore;
}

/** What the Alipay adapter needs to talk to this emulator (the same shape as real credentials). */
export interface AlipayEmulatorCredentials {
  readonly appId: string;
  readonly privateKey: Secret<string>;
  readonly alipayPublicKey: string;
  readonly gateway: string;
}

/** A trade as the emulator sees it, for tests and the control API. */
export interface AlipayTradeView {
  readonly outTradeNo: string;
  readonly tradeNo: string;
  readonly status: Trade['status'];
  readonly visible: boolean;
  readonly product: TradeProduct;
  readonly totalAmount: string;
  readonly amountRefunded: string;
  readonly refunds: readonly { readonly outRequestNo: string; readonly amount: string }[];
  readonly cashierUrl: string;
  readonly qrUrl: string;
}

export interface AlipayEmulator {
  readonly plugin: FastifyPluginAsync;
  credentials(): AlipayEmulatorCredentials;
  readonly faults: AlipayFaults;
  /** The buyer, programmatically (the same as pressing the cashier's buttons). */
  readonly buyer: {
    scan(outTradeNo: string): AlipayTradeView | undefined;
    act(outTradeNo: string, action: BuyerAction): AlipayTradeView | undefined;
  };
  trade(outTradeNo: string): AlipayTradeView | undefined;
  notifications(): readonly NotificationRecord[];
  /** Stops timers and pending notifications, and drops connections held by the timeout fault. */
  stop(): void;
}

const pageMethods: Readonly<Record<string, Exclude<TradeProduct, 'precreate'>>> = {
  'alipay.trade.page.pay': 'page',
  'alipay.trade.wap.pay': 'wap',
  'alipay.trade.app.pay': 'app',
};

const commonRequired: readonly (readonly [string, string])[] = [
  ['app_id', 'isv.missing-app-id'],
  ['method', 'isv.missing-method'],
  ['sign', 'isv.missing-signature'],
  ['sign_type', 'isv.missing-signature-type'],
  ['timestamp', 'isv.missing-timestamp'],
  ['version', 'isv.missing-version'],
];

const invalid = (subCode: string, subMsg: string): ApiAnswer => ({ code: '40002', msg: 'Invalid Arguments', sub_code: subCode, sub_msg: subMsg });

function responseKeyOf(method: string | undefined, known: boolean): string {
  return method !== undefined && known ? `${method.replaceAll('.', '_')}_response` : 'error_response';
}

/** Query-string parameters, then form-body parameters (alipay-sdk splits them that way). */
function collectParams(request: FastifyRequest): Record<string, string> {
  const params: Record<string, string> = {};
  const queryIndex = request.url.indexOf('?');
  if (queryIndex >= 0) for (const [key, value] of new URLSearchParams(request.url.slice(queryIndex + 1))) params[key] = value;
  const contentType = request.headers['content-type'] ?? '';
  if (typeof request.body === 'string' && contentType.startsWith('application/x-www-form-urlencoded')) {
    for (const [key, value] of new URLSearchParams(request.body)) params[key] = value;
  }
  return params;
}

function formBody(request: FastifyRequest): URLSearchParams {
  return new URLSearchParams(typeof request.body === 'string' ? request.body : '');
}


export function createAlipayEmulator(options: AlipayEmulatorOptions): AlipayEmulator {
  const prefix = (options.prefix ?? '/sandbox/alipay').replace(/\/$/, '');
  const now = options.now ?? (() => new Date());
  const clockScale = options.clockScale ?? 1;
  if (!(clockScale > 0)) throw new RangeError('clockScale must be positive');
  const appKeys = options.keys?.app ?? generateRsaKeyPair();
  const alipayKeys = options.keys?.alipay ?? generateRsaKeyPair();
  const appId = options.appId ?? '2021000000000001';
  const pid = options.pid ?? '2088000000000001';
  const merchantName = options.merchantName ?? 'Fenpay 沙箱商户 Sandbox merchant';
  const hangMs = options.hangMs ?? 60_000;
  const publicUrl = () => (typeof options.publicUrl === 'function' ? options.publicUrl() : options.publicUrl).replace(/\/$/, '');
  const baseUrl = () => `${publicUrl()}${prefix}`;
  const store = options.store ?? createMemoryTradeStore();
  const faults: FaultBoard = createFaultBoard();
  const notifier: Notifier = createNotifier({ alipayPrivateKey: alipayKeys.privateKey, faults, now, clockScale, deliveryTimeoutMs: options.notifyTimeoutMs ?? 5_000 });
  const engine: Engine = createEngine({
    store,
    notifier,
    now,
    appId,
    pid,
    sellerEmail: 'merchant@sandbox.alipay',
    baseUrl,
    feeBps: BigInt(options.feeBps ?? 60),
    billUrlTtlMs: 30_000,
  });
  const hung = new Set<() => void>();
  let stopped = false;
  let sweep: NodeJS.Timeout | undefined;
  const sweepIntervalMs = options.sweepIntervalMs ?? 1_000;
  if (sweepIntervalMs > 0) {
    sweep = setInterval(() => engine.expireDue(), sweepIntervalMs);
    sweep.unref();
  }

  function view(trade: Trade): AlipayTradeView {
    const refunded = trade.refunds.reduce((sum, r) => sum + r.amount, 0n);
    return {
      outTradeNo: trade.outTradeNo,
      tradeNo: trade.tradeNo,
      status: trade.status,
      visible: trade.visible,
      product: trade.product,
      totalAmount: formatYuan(trade.totalAmount),
      amountRefunded: formatYuan(refunded),
      refunds: trade.refunds.map((r) => ({ outRequestNo: r.outRequestNo, amount: formatYuan(r.amount) })),
      cashierUrl: `${baseUrl()}/cashier/${trade.token}`,
      qrUrl: `${baseUrl()}/qr/${trade.token}`,
    };
  }

  /** Checks the common parameters and our signature; the answer Alipay gives when they are wrong. */
  function checkCommon(params: Readonly<Record<string, string>>): ApiAnswer | undefined {
    for (const [key, subCode] of commonRequired) {
      if (params[key] === undefined || params[key] === '') return { code: '40001', msg: 'Missing Required Arguments', sub_code: subCode, sub_msg: `缺少必选参数: ${key}` };
    }
    if (params.app_id !== appId) return invalid('isv.invalid-app-id', '无效的AppID参数');
    if (params.format !== undefined && params.format.toUpperCase() !== 'JSON') return invalid('isv.invalid-format', '无效的数据格式');
    if (params.charset !== undefined && params.charset.toLowerCase() !== 'utf-8') return invalid('isv.invalid-charset', '字符集错误');
    if (params.sign_type !== 'RSA2') return invalid('isv.invalid-signature-type', '无效的签名类型');
    if (params.timestamp === undefined || parseBeijingDateTime(params.timestamp) === undefined) return invalid('isv.invalid-timestamp', '非法的时间戳参数');
    const verified = verifyRequestSignature(params, appKeys.publicKey);
    if (!verified.ok) {
      return invalid('isv.invalid-signature', `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${verified.content}`);
    }
    return undefined;
  }

  function bizOf(params: Readonly<Record<string, string>>): Record<string, unknown> | ApiAnswer {
    const raw = params.biz_content;
    if (raw === undefined || raw === '') return {};
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // fall through
    }
    return invalid('isv.invalid-biz-content', 'biz_content 不是合法的 JSON 对象');
  }

  function isAnswer(value: Record<string, unknown> | ApiAnswer): value is ApiAnswer {
    return typeof value.code === 'string' && typeof value.msg === 'string';
  }

  function sendSigned(reply: FastifyReply, method: string | undefined, known: boolean, response: ApiAnswer, corruptSignature = false): FastifyReply {
    const body = signedResponseText({ responseKey: responseKeyOf(method, known), response, privateKeyPem: alipayKeys.privateKey, corruptSignature });
    return reply.code(200).type('application/json; charset=utf-8').send(body);
  }

  async function hang(reply: FastifyReply): Promise<void> {
    reply.hijack();
    await new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        hung.delete(release);
        reply.raw.destroy();
        resolve();
      };
      // After stop() nothing is held: the connection drops at once.
      const timer = setTimeout(release, stopped ? 0 : hangMs);
      hung.add(release);
    });
  }

  function systemError(): ApiAnswer {
    return { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error', sub_msg: '系统繁忙' };
  }

  async function api(request: FastifyRequest, reply: FastifyReply, params: Record<string, string>): Promise<FastifyReply> {
    const method = params.method;
    if (faults.inOutage) return reply.code(503).type('text/html; charset=utf-8').send('<html><body>503 Service Temporarily Unavailable</body></html>');
    const known = method !== undefined && engine.apiMethods.includes(method);
    const fault = faults.takeGateway(method ?? '');
    if (fault !== undefined && !fault.applied) {
      if (fault.kind === 'http_5xx') return reply.code(502).type('text/html; charset=utf-8').send('<html><body>502 Bad Gateway</body></html>');
      if (fault.kind === 'system_error') return sendSigned(reply, method, known, systemError());
    }
    const commonError = checkCommon(params);
    let answer: ApiAnswer;
    if (commonError !== undefined) answer = commonError;
    else {
      const biz = bizOf(params);
      answer = isAnswer(biz) ? biz : engine.api(method ?? '', biz, params);
    }
    if (fault !== undefined) {
      switch (fault.kind) {
        case 'http_5xx':
          return reply.code(502).type('text/html; charset=utf-8').send('<html><body>502 Bad Gateway</body></html>');
        case 'system_error':
          return sendSigned(reply, method, known, systemError());
        case 'timeout':
          request.log.debug({ method }, 'alipay emulator: holding the answer (timeout fault)');
          await hang(reply);
          return reply;
        case 'bad_signature':
          return sendSigned(reply, method, known, answer, true);
      }
    }
    return sendSigned(reply, method, known, answer);
  }

  /** A browser (or the Alipay app) opening a page, WAP or app order. */
  function openOrder(reply: FastifyReply, product: Exclude<TradeProduct, 'precreate'>, params: Record<string, string>): FastifyReply {
    if (faults.inOutage) return sendHtml(reply, 503, errorPage({ code: '503', subCode: undefined, message: '系统繁忙，请稍后再试 · Alipay is unavailable, try again later.' }));
    const commonError = checkCommon(params);
    const biz = commonError ?? bizOf(params);
    const opened = isAnswer(biz) ? { error: biz } : engine.openOrder(product, biz, params);
    if ('error' in opened) {
      const error = opened.error;
      return sendHtml(reply, 400, errorPage({ code: String(error.code), subCode: typeof error.sub_code === 'string' ? error.sub_code : undefined, message: String(error.sub_msg ?? error.msg) }));
    }
    return reply.header('cache-control', 'no-store').redirect(`${prefix}/cashier/${opened.trade.token}`, 303);
  }

  function returnUrlFor(trade: Trade): string | undefined {
    const base = httpUrlOrUndefined(trade.returnUrl);
    if (base === undefined || (trade.product !== 'page' && trade.product !== 'wap')) return undefined;
    const params = engine.returnParams(trade);
    const url = new URL(base);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    url.searchParams.set('sign', signNotificationParams(params, alipayKeys.privateKey));
    return url.toString();
  }

  async function routes(app: FastifyInstance): Promise<void> {
    // Our own parsers, in this plugin's scope only: signatures need the raw form values, untouched by qs.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

    app.route({
      method: ['GET', 'POST'],
      url: `${prefix}/gateway.do`,
      handler: async (request, reply) => {
        const params = collectParams(request);
        const product = params.method === undefined ? undefined : pageMethods[params.method];
        if (product !== undefined) return openOrder(reply, product, params);
        return api(request, reply, params);
      },
    });

    app.get<{ Params: { token: string } }>(`${prefix}/qr/:token`, async (request, reply) => {
      const trade = engine.scan(request.params.token);
      if (trade === undefined) return sendHtml(reply, 404, notFoundPage());
      return reply.header('cache-control', 'no-store').redirect(`${prefix}/cashier/${trade.token}`, 303);
    });

    app.get<{ Params: { token: string } }>(`${prefix}/cashier/:token`, async (request, reply) => {
      const trade = engine.scan(request.params.token);
      if (trade === undefined) return sendHtml(reply, 404, notFoundPage());
      if (trade.status !== 'WAIT_BUYER_PAY') return sendHtml(reply, 200, statusPage({ trade, merchantName, backUrl: trade.paidAt === undefined ? undefined : returnUrlFor(trade) }));
      return sendHtml(reply, 200, cashierPage({ trade, merchantName, actionUrl: `${prefix}/cashier/${trade.token}` }));
    });

    app.post<{ Params: { token: string } }>(`${prefix}/cashier/:token`, async (request, reply) => {
      const action = formBody(request).get('action');
      if (action !== 'approve' && action !== 'decline' && action !== 'walk_away') {
        return sendHtml(reply, 400, errorPage({ code: '400', subCode: undefined, message: 'action=approve|decline|walk_away' }));
      }
      const trade = engine.buyer(request.params.token, action);
      if (trade === undefined) return sendHtml(reply, 404, notFoundPage());
      if (action === 'approve' && trade.paidAt !== undefined) {
        const returnUrl = returnUrlFor(trade);
        if (returnUrl !== undefined) return reply.header('cache-control', 'no-store').redirect(returnUrl, 303);
      }
      const backUrl = action === 'approve' ? undefined : httpUrlOrUndefined(trade.quitUrl ?? trade.returnUrl);
      return sendHtml(reply, 200, statusPage({ trade, merchantName, backUrl, walkedAway: action === 'walk_away' }));
    });

    app.get(`${prefix}/downloadBillFile.resource`, async (request, reply) => {
      const queryIndex = request.url.indexOf('?');
      const result = engine.bill(new URLSearchParams(queryIndex >= 0 ? request.url.slice(queryIndex + 1) : ''));
      if ('status' in result) return reply.code(result.status).type('text/plain; charset=utf-8').send(result.message);
      return reply
        .code(200)
        .type('application/zip')
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(result.bill.fileName)}`)
        .send(result.bill.zip);
    });

    app.get(`${prefix}/health`, async (_request, reply) => {
      if (faults.inOutage) return reply.code(503).send({ status: 'unavailable', channel: 'alipay' });
      return reply.send({ status: 'ok', channel: 'alipay' });
    });

    controlRoutes(app);
  }

  function controlRoutes(app: FastifyInstance): void {
    const control = `${prefix}/_control`;
    app.get(`${control}/faults`, async () => faults.pending());
    app.delete(`${control}/faults`, async () => {
      faults.clear();
      return faults.pending();
    });
    app.post(`${control}/faults`, async (request, reply) => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(typeof request.body === 'string' ? request.body : '') as Record<string, unknown>;
      } catch {
        return reply.code(400).send({ error: 'send a JSON body' });
      }
      const kind = body.kind;
      const count = typeof body.count === 'number' ? body.count : undefined;
      try {
        if (kind === 'outage') faults.outage(body.on !== false);
        else if ((gatewayFaultKinds as readonly unknown[]).includes(kind)) {
          faults.gateway(kind as GatewayFaultKind, {
            ...(count === undefined ? {} : { count }),
            ...(typeof body.method === 'string' ? { method: body.method } : {}),
            ...(typeof body.applied === 'boolean' ? { applied: body.applied } : {}),
          });
        } else if ((notificationFaultKinds as readonly unknown[]).includes(kind)) {
          faults.notifications(kind as NotificationFaultKind, count === undefined ? {} : { count });
        } else {
          return reply.code(400).send({ error: `kind is one of ${[...gatewayFaultKinds, ...notificationFaultKinds, 'outage'].join(', ')}` });
        }
      } catch (error) {
        return reply.code(400).send({ error: error instanceof Error ? error.message : 'invalid fault' });
      }
      return reply.code(201).send(faults.pending());
    });
    app.get<{ Params: { outTradeNo: string } }>(`${control}/trades/:outTradeNo`, async (request, reply) => {
      const trade = store.byOutTradeNo(request.params.outTradeNo);
      return trade === undefined ? reply.code(404).send({ error: 'no such trade' }) : view(trade);
    });
    app.post<{ Params: { outTradeNo: string; action: string } }>(`${control}/trades/:outTradeNo/:action`, async (request, reply) => {
      const { outTradeNo, action } = request.params;
      const trade = store.byOutTradeNo(outTradeNo);
      if (trade === undefined) return reply.code(404).send({ error: 'no such trade' });
      if (action === 'scan') engine.scan(trade.token);
      else if (action === 'approve' || action === 'decline' || action === 'walk_away') engine.buyer(trade.token, action);
      else return reply.code(400).send({ error: 'action is scan, approve, decline or walk_away' });
      return view(trade);
    });
    app.get(`${control}/notifications`, async () => notifier.records().map((r) => ({ notifyId: r.notifyId, url: r.url, fields: r.fields, attempts: r.attempts, acknowledged: r.acknowledged, finished: r.finished })));
  }

  return {
    plugin: routes,
    credentials: () => ({ appId, privateKey: new Secret(appKeys.privateKey), alipayPublicKey: alipayKeys.publicKey, gateway: `${baseUrl()}/gateway.do` }),
    faults,
    buyer: {
      scan(outTradeNo) {
        const trade = store.byOutTradeNo(outTradeNo);
        return trade === undefined ? undefined : view(engine.scan(trade.token) ?? trade);
      },
      act(outTradeNo, action) {
        const trade = store.byOutTradeNo(outTradeNo);
        return trade === undefined ? undefined : view(engine.buyer(trade.token, action) ?? trade);
      },
    },
    trade(outTradeNo) {
      const trade = store.byOutTradeNo(outTradeNo);
      return trade === undefined ? undefined : view(trade);
    },
    notifications: () => notifier.records(),
    stop() {
      stopped = true;
      if (sweep !== undefined) clearInterval(sweep);
      notifier.stop();
      for (const release of [...hung]) release();
    },
  };
}

