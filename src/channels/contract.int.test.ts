/**
 * The channel contract (contract.ts) over every adapter, each against its provider over the same
 * wire it uses in test mode: the sandbox card acquirer on a real database, the Alipay, WeChat Pay (both
 * key modes) and UnionPay emulators over real HTTP, and a second Fenpay as the Stripe-API acquirer.
 * Each harness plays the payer through the provider's own pages and breaks calls with the provider's
 * own fault switches (or, where the provider has none, at the wire between adapter and provider).
 */
import { createServer, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import qs from 'qs';
import type Stripe from 'stripe';
import { createTestDatabase } from '../../test/support/database.ts';
import { startTestFenpay } from '../../test/support/fenpay.ts';
import { Secret } from '../kernel/index.ts';
import type { ChannelAdapter, ChannelOutcome, InboundHttp } from './channel.ts';
import { contractOrderNo, createNotificationLog, describeChannelContract, type ContractFaultKind, type NotificationLog, type PayerScenario } from './contract.ts';
import { createAlipayChannel } from './alipay/index.ts';
import { createSandboxCardChannel } from './sandbox-card/index.ts';
import { createStripeAcquirerChannel } from './stripe-acquirer/index.ts';
import { createUnionPayChannel } from './unionpay/index.ts';
import { createWechatPayChannel } from './wechat-pay/index.ts';
import { createAlipayEmulator, type GatewayFaultKind } from '../sandbox/alipay/index.ts';
import { createSandboxCardAcquirer, sandboxCardPages, SandboxCardTimeoutError, type SandboxCardAcquirer } from '../sandbox/cards/index.ts';
import { createUnionPayEmulator, type ApiFault } from '../sandbox/unionpay/index.ts';
import { createWechatPayEmulator, type FaultKind as WechatFaultKind, type WechatPayKeyMode } from '../sandbox/wechat-pay/index.ts';

// ---- shared pieces ---------------------------------------------------------------------------------

const expYear = new Date().getUTCFullYear() + 3;

function card(number: string) {
  return { type: 'card', number: new Secret(number), expMonth: 12, expYear, cvc: new Secret('123'), brand: 'visa' } as const;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The merchant's notification endpoint on the emulator's app: raw bytes in, the log's reply out. */
async function notificationRoute(app: FastifyInstance, path: string, log: NotificationLog): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    scope.post(path, async (request, reply) => {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value]));
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const answer = await log.handle({ method: request.method, path: request.url, headers, rawBody });
      return reply.code(answer.status).type(answer.contentType).send(answer.body);
    });
  });
}

/** A form-encoded notification with one field changed. */
function tamperForm(inbound: InboundHttp, field: string, value: string): InboundHttp {
  const form = new URLSearchParams(inbound.rawBody.toString('utf8'));
  if (form.get(field) === value) throw new Error(`${field} is already ${value}`);
  form.set(field, value);
  return { ...inbound, rawBody: Buffer.from(form.toString()) };
}

function actionOf(outcome: ChannelOutcome) {
  if (outcome.status !== 'requires_action') throw new Error(`the payer has nothing to do for a ${outcome.status} order`);
  return outcome.action;
}

async function expectStatus(response: Response, ...ok: number[]): Promise<string> {
  const text = await response.text();
  if (!ok.includes(response.status)) throw new Error(`the provider answered ${response.status}: ${text.slice(0, 200)}`);
  return text;
}

// ---- sandbox_card -----------------------------------------------------------------------------------

/** The sandbox acquirer, with a switch between it and the adapter (it is called in-process: its "wire" is this call). */
function faultableAcquirer(acquirer: SandboxCardAcquirer, armed: () => ContractFaultKind | undefined): SandboxCardAcquirer {
  function wrap<R extends { orderNo: string }, A>(call: (request: R) => Promise<A>): (request: R) => Promise<A> {
    return async (request) => {
      const kind = armed();
      if (kind === 'server_error') throw new Error('the acquirer answered HTTP 500');
      const answer = await call(request);
      // The acquirer did the work; its answer never came back.
      if (kind === 'timeout') throw new SandboxCardTimeoutError(request.orderNo);
      return answer;
    };
  }
  return {
    ...acquirer,
    authorize: wrap((r) => acquirer.authorize(r)),
    query: wrap((r) => acquirer.query(r)),
    capture: wrap((r) => acquirer.capture(r)),
    void: wrap((r) => acquirer.void(r)),
    refund: wrap((r) => acquirer.refund(r)),
  };
}

describeChannelContract(
  'sandbox_card',
  async () => {
    const database = await createTestDatabase({ poolSize: 5 });
    const acquirer = createSandboxCardAcquirer({ db: database.db, publicUrl: 'https://pay.fenpay.test/', settleDelaySeconds: 30 });
    let armed: ContractFaultKind | undefined;
    const adapter = createSandboxCardChannel({ acquirer: faultableAcquirer(acquirer, () => armed) });
    const app = Fastify();
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, qs.parse(body as string)));
    await app.register(sandboxCardPages, { acquirer });
    await app.ready();

    async function challenge(outcome: ChannelOutcome, result: 'approve' | 'fail') {
      const action = actionOf(outcome);
      if (action.type !== 'redirect_to_url') throw new Error(`expected a 3-D Secure redirect, got ${action.type}`);
      const answer = await app.inject({ method: 'POST', url: new URL(action.url).pathname, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `result=${result}` });
      if (answer.statusCode !== 303) throw new Error(`the challenge page answered ${answer.statusCode}`);
    }

    const cards: Record<PayerScenario, string> = { approve: '4242424242424242', decline: '4000000000000002', unpaid: '4000002500003155' };
    return {
      adapter,
      methodType: 'card',
      currency: 'usd',
      amount: 10_000n,
      newOrderNo: () => contractOrderNo('ord'),
      paymentMethod: (scenario) => card(cards[scenario]),
      requestDefaults: { returnUrl: 'https://shop.example.test/return' },
      payerApproves: async (_orderNo, outcome) => challenge(outcome, 'approve'),
      payerDeclines: async (_orderNo, outcome) => challenge(outcome, 'fail'),
      failNextCall: async (kind) => {
        armed = kind;
      },
      clearFaults: async () => {
        armed = undefined;
      },
      unreachableAdapter: () => createSandboxCardChannel({ acquirer: faultableAcquirer(acquirer, () => 'server_error') }),
      teardown: async () => {
        await app.close();
        await database.drop();
      },
    };
  },
  {
    faults: {
      timeout: true,
      server_error: true,
      bad_signature: 'the sandbox acquirer is called in-process; its answers carry no signature to break',
    },
    notifies: 'the sandbox acquirer answers every call synchronously and sends no notifications',
  },
);

// ---- alipay -----------------------------------------------------------------------------------------

describeChannelContract(
  'alipay',
  async () => {
    await portsReady;
    let base = '';
    const emulator = createAlipayEmulator({ publicUrl: () => base, clockScale: 24_000, sweepIntervalMs: 0, hangMs: 5_000 });
    const app = Fastify();
    const log = createNotificationLog(() => adapter);
    await app.register(emulator.plugin);
    await notificationRoute(app, '/hooks/alipay', log);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    const notifyUrl = `${base}/hooks/alipay`;
    const adapter: ChannelAdapter = createAlipayChannel({ credentials: { ...emulator.credentials(), notifyUrl }, timeoutMs: 1_000, qrImages: false });

    /** Scans the QR (or opens the page), then presses a button on the cashier. */
    async function cashier(outcome: ChannelOutcome, action: 'approve' | 'decline') {
      const next = actionOf(outcome);
      if (next.type !== 'display_qr_code' && next.type !== 'redirect_to_url') throw new Error(`unexpected action ${next.type}`);
      const opened = await fetch(next.type === 'display_qr_code' ? next.data : next.url, { redirect: 'manual' });
      await expectStatus(opened, 303);
      const path = opened.headers.get('location') ?? '';
      const page = await fetch(`${base}${path}`);
      const html = await expectStatus(page, 200);
      // A closed or paid trade shows a status page without the buttons: the payer cannot pay there.
      if (!html.includes('name="action"')) throw new Error('the cashier offers no payment');
      const pressed = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `action=${action}`, redirect: 'manual' });
      await expectStatus(pressed, 200, 303);
    }

    const faultKinds: Record<ContractFaultKind, GatewayFaultKind> = { timeout: 'timeout', server_error: 'http_5xx', bad_signature: 'bad_signature' };
    return {
      adapter,
      methodType: 'alipay',
      currency: 'cny',
      amount: 10_000n,
      newOrderNo: () => contractOrderNo('ord'),
      paymentMethod: () => ({ type: 'alipay' }),
      requestDefaults: { flow: 'qr', subject: '合约测试 Contract test', notifyUrl },
      payerApproves: async (_orderNo, outcome) => cashier(outcome, 'approve'),
      payerDeclines: async (_orderNo, outcome) => cashier(outcome, 'decline'),
      failNextCall: async (kind) => emulator.faults.gateway(faultKinds[kind], { count: 1 }),
      clearFaults: async () => emulator.faults.clear(),
      paymentsAtProvider: async (orderNo) => (['TRADE_SUCCESS', 'TRADE_FINISHED'].includes(emulator.trade(orderNo)?.status ?? '') ? 1 : 0),
      notifications: log,
      tamper: (inbound) => tamperForm(inbound, 'total_amount', '0.01'),
      unreachableAdapter: () => {
        const port = closedPortSync.get('alipay');
        return createAlipayChannel({ credentials: { ...emulator.credentials(), gateway: `http://127.0.0.1:${port}/gateway.do`, notifyUrl }, timeoutMs: 1_000, qrImages: false });
      },
      teardown: async () => {
        emulator.stop();
        await app.close();
      },
    };
  },
  {
    faults: { timeout: true, server_error: true, bad_signature: true },
    notifies: true,
    declinedOrderReads: { status: 'canceled', reason: 'Alipay closes a trade the payer refused (TRADE_CLOSED), which reads as any other close' },
  },
);

/** Ports reserved before the suites start (unreachableAdapter is synchronous). */
const closedPortSync = new Map<string, number>();
for (const name of ['alipay', 'wechat_pay_public_key', 'wechat_pay_platform_certificate', 'unionpay', 'stripe_acquirer']) closedPortSync.set(name, 1);
const portsReady = Promise.all([...closedPortSync.keys()].map(async (name) => closedPortSync.set(name, await closedPort())));

// ---- wechat_pay (both key modes) ----------------------------------------------------------------------

for (const mode of ['public_key', 'platform_certificate'] as const satisfies readonly WechatPayKeyMode[]) {
  describeChannelContract(
    `wechat_pay (${mode})`,
    async () => {
      await portsReady;
      let base = '';
      const emulator = createWechatPayEmulator({ publicUrl: () => base, mode, clockScale: 1_000 });
      const app = Fastify();
      const log = createNotificationLog(() => adapter);
      await app.register(emulator.plugin);
      await notificationRoute(app, '/hooks/wechat_pay', log);
      base = await app.listen({ host: '127.0.0.1', port: 0 });
      const notifyUrl = `${base}/hooks/wechat_pay`;
      const adapter: ChannelAdapter = createWechatPayChannel({ credentials: emulator.credentials(), notifyUrl, timeoutMs: 1_500, qrImage: false });

      /** The buyer page behind the Native code_url, as a phone that scanned it would post it. */
      async function buyer(outcome: ChannelOutcome, action: 'pay' | 'decline') {
        const next = actionOf(outcome);
        if (next.type !== 'display_qr_code') throw new Error(`unexpected action ${next.type}`);
        const pr = new URL(next.data).searchParams.get('pr') ?? '';
        await expectStatus(await fetch(next.data), 200);
        const answer = await fetch(`${base}${emulator.prefix}/pay`, { method: 'POST', body: new URLSearchParams({ pr, action }), redirect: 'manual' });
        await expectStatus(answer, 200);
      }

      const faultKinds: Record<ContractFaultKind, WechatFaultKind> = { timeout: 'hang', server_error: 'http_500', bad_signature: 'bad_signature' };
      return {
        adapter,
        methodType: 'wechat_pay',
        currency: 'cny',
        amount: 10_000n,
        newOrderNo: () => contractOrderNo('ord'),
        paymentMethod: () => ({ type: 'wechat_pay' }),
        requestDefaults: { flow: 'qr', subject: '合约测试 Contract test', notifyUrl },
        payerApproves: async (_orderNo, outcome) => buyer(outcome, 'pay'),
        payerDeclines: async (_orderNo, outcome) => buyer(outcome, 'decline'),
        failNextCall: async (kind) => emulator.faults.arm(faultKinds[kind], 1),
        clearFaults: async () => emulator.faults.clear(),
        paymentsAtProvider: async (orderNo) => (emulator.store.getOrder(orderNo)?.transactionId === undefined ? 0 : 1),
        notifications: log,
        tamper: (inbound) => {
          const body = JSON.parse(inbound.rawBody.toString('utf8')) as Record<string, unknown>;
          return { ...inbound, rawBody: Buffer.from(JSON.stringify({ ...body, summary: 'tampered 被篡改' })) };
        },
        unreachableAdapter: () =>
          createWechatPayChannel({ credentials: { ...emulator.credentials(), baseUrl: `http://127.0.0.1:${closedPortSync.get(`wechat_pay_${mode}`)}${emulator.prefix}` }, notifyUrl, timeoutMs: 1_000 }),
        teardown: async () => {
          emulator.stop();
          await app.close();
        },
      };
    },
    { faults: { timeout: true, server_error: true, bad_signature: true }, notifies: true },
  );
}

// ---- unionpay ---------------------------------------------------------------------------------------

const unescapeHtml = (value: string) => value.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))).replaceAll('&amp;', '&');

describeChannelContract(
  'unionpay',
  async () => {
    await portsReady;
    let base = '';
    const emulator = await createUnionPayEmulator({ publicUrl: () => base, clockScale: 60_000 });
    const app = Fastify();
    const log = createNotificationLog(() => adapter);
    await app.register(emulator.plugin);
    await notificationRoute(app, '/hooks/unionpay', log);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    const notifyUrl = `${base}/hooks/unionpay`;
    const adapter: ChannelAdapter = createUnionPayChannel({ test: emulator.credentials(), notifyUrl, timeoutMs: 1_000 });

    /** The payer's browser posts the signed form, then chooses on the cashier page. */
    async function cashier(outcome: ChannelOutcome, action: 'approve' | 'decline') {
      const next = actionOf(outcome);
      if (next.type !== 'post_form') throw new Error(`unexpected action ${next.type}`);
      const page = await fetch(next.url, { method: 'POST', body: new URLSearchParams(Object.entries(next.fields)) });
      const html = await expectStatus(page, 200);
      const path = /action="([^"]+\/cashier\/[^"]+)"/.exec(html)?.[1];
      if (path === undefined) throw new Error('the cashier offers no payment');
      await expectStatus(await fetch(`${base}${unescapeHtml(path)}`, { method: 'POST', body: new URLSearchParams({ action }) }), 200);
    }

    const faultKinds: Record<ContractFaultKind, ApiFault> = { timeout: 'hang', server_error: 'http_500', bad_signature: 'bad_signature' };
    return {
      adapter,
      methodType: 'unionpay',
      currency: 'cny',
      amount: 10_000n,
      newOrderNo: () => contractOrderNo('ord'),
      paymentMethod: () => ({ type: 'unionpay' }),
      requestDefaults: { flow: 'page', returnUrl: 'https://shop.example.test/return', notifyUrl },
      payerApproves: async (_orderNo, outcome) => cashier(outcome, 'approve'),
      payerDeclines: async (_orderNo, outcome) => cashier(outcome, 'decline'),
      failNextCall: async (kind) => emulator.faults.inject(faultKinds[kind], 1),
      clearFaults: async () => emulator.faults.clear(),
      paymentsAtProvider: async (orderNo) => emulator.transactions().filter((t) => t.txnType === '01' && t.orderId === orderNo && t.status === 'paid').length,
      notifications: log,
      tamper: (inbound) => tamperForm(inbound, 'txnAmt', '1'),
      unreachableAdapter: () => {
        const dead = `http://127.0.0.1:${closedPortSync.get('unionpay')}/gateway/api`;
        return createUnionPayChannel({
          test: { ...emulator.credentials(), frontTransUrl: `${dead}/frontTransReq.do`, backTransUrl: `${dead}/backTransReq.do`, singleQueryUrl: `${dead}/queryTrans.do` },
          notifyUrl,
          timeoutMs: 1_000,
        });
      },
      teardown: async () => {
        emulator.stop();
        await app.close();
      },
    };
  },
  {
    faults: { timeout: true, server_error: true, bad_signature: true },
    notifies: true,
    notApplicable: {
      fault_on_authorize: 'authorize makes no call to UnionPay: it signs a front consume form that the payer’s browser posts',
      payment_after_cancel: 'ACP has no close for a front consume: an unpaid order lapses at payTimeout, and a late payment is found by query or notification',
    },
  },
);

// ---- stripe_acquirer --------------------------------------------------------------------------------

/**
 * The wire between the adapter and the acquirer: a pass-through proxy that, while a fault is armed,
 * answers 500 without forwarding (server_error) or forwards and never answers (timeout: the acquirer
 * did the work, the answer is lost). stripe-node's own retry meets the same fault.
 */
async function faultyWire(upstreamPort: number): Promise<{ port: number; arm(kind: ContractFaultKind | undefined): void; close(): Promise<void> }> {
  let armed: ContractFaultKind | undefined;
  const held = new Set<ServerResponse>();
  const server: Server = createServer((request, response) => {
    const kind = armed;
    if (kind === 'server_error') {
      request.resume();
      response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'api_error', message: 'An error occurred with our connection to the acquirer.' } }));
      return;
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: upstreamPort, method: request.method, path: request.url, headers: request.headers }, (answer) => {
      if (kind === 'timeout') {
        answer.resume();
        held.add(response);
        return;
      }
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    arm(kind) {
      armed = kind;
    },
    async close() {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describeChannelContract(
  'stripe_acquirer',
  async () => {
    await portsReady;
    const acquirer = await startTestFenpay({ env: { SANDBOX_TIMEOUT_CARD_SETTLE_SECONDS: '1' } });
    const account = await acquirer.createMerchant({ handlesCardData: true, name: 'Acquirer account' });
    const wire = await faultyWire(acquirer.port);
    const channelAt = (port: number, timeoutMs: number) =>
      createStripeAcquirerChannel({ credentials: { secretKey: new Secret(account.secretKey), host: '127.0.0.1', port, protocol: 'http' }, modes: ['test'], timeoutMs });
    const adapter = channelAt(wire.port, 1_500);

    async function challenge(outcome: ChannelOutcome, result: 'approve' | 'fail') {
      const action = actionOf(outcome);
      if (action.type !== 'redirect_to_url') throw new Error(`expected a 3-D Secure redirect, got ${action.type}`);
      await expectStatus(await fetch(action.url, { method: 'POST', body: new URLSearchParams({ result }), redirect: 'manual' }), 303);
    }

    const cards: Record<PayerScenario, string> = { approve: '4242424242424242', decline: '4000000000000002', unpaid: '4000002500003155' };
    return {
      adapter,
      methodType: 'card',
      currency: 'usd',
      amount: 10_000n,
      newOrderNo: () => contractOrderNo('att'),
      paymentMethod: (scenario) => card(cards[scenario]),
      requestDefaults: { returnUrl: 'https://shop.example.test/return' },
      payerApproves: async (_orderNo, outcome) => challenge(outcome, 'approve'),
      payerDeclines: async (_orderNo, outcome) => challenge(outcome, 'fail'),
      failNextCall: async (kind) => wire.arm(kind),
      clearFaults: async () => wire.arm(undefined),
      paymentsAtProvider: async (orderNo) => {
        const found: Stripe.PaymentIntent[] = [];
        for await (const pi of account.stripe.paymentIntents.list({ limit: 100 })) if (pi.metadata.fenpay_order_no === orderNo && pi.amount_received > 0) found.push(pi);
        return found.length;
      },
      unreachableAdapter: () => channelAt(closedPortSync.get('stripe_acquirer') ?? 1, 1_000),
      teardown: async () => {
        await wire.close();
        await acquirer.close();
      },
    };
  },
  {
    faults: {
      timeout: true,
      server_error: true,
      bad_signature: 'Stripe API answers carry no signature (TLS authenticates the acquirer), so there is none to break',
    },
    notifies: 'the stripe_acquirer adapter learns outcomes by query; it does not take the acquirer’s webhooks',
  },
);
