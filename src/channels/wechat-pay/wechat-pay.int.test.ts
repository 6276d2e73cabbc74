/**
 * The WeChat Pay channel driven over real HTTP against the emulator (src/sandbox/wechat-pay) in both
 * key modes: every flow, the buyer's three endings, query at each state, close, partial refunds,
 * notifications through a tiny local receiver, every fault switch, certificate rotation, and the bill.
 */
import { createPublicKey, createVerify } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomToken } from '../../kernel/index.ts';
import { createWechatPayEmulator, type WechatPayEmulator, type WechatPayKeyMode } from '../../sandbox/wechat-pay/index.ts';
import type { AuthorizeRequest, ChannelNotification, ChannelOutcome, InboundHttp, OrderRef, VerifiedNotification } from '../channel.ts';
import { createWechatPayChannel, type WechatPayChannel } from './index.ts';
import { until as untilValue } from '../../../test/support/until.ts';

interface Received {
  readonly inbound: InboundHttp;
  readonly verdict: VerifiedNotification;
  readonly answeredStatus: number;
}

/** A merchant's notify endpoint: verifies with the channel, answers as told (or as the channel says). */
function startReceiver(channel: () => WechatPayChannel): Promise<{ server: Server; url: string; received: Received[]; forceStatuses: number[] }> {
  const received: Received[] = [];
  const forceStatuses: number[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const inbound: InboundHttp = { method: request.method ?? 'POST', path: request.url ?? '/', headers: lower(request.headers), rawBody: Buffer.concat(chunks) };
      void channel()
        .parseNotification(inbound)
        .then((verdict) => {
          const reply = verdict.ok ? verdict.ack : verdict.reply;
          const status = forceStatuses.shift() ?? reply.status;
          received.push({ inbound, verdict, answeredStatus: status });
          response.writeHead(status, { 'Content-Type': reply.contentType }).end(status === reply.status ? reply.body : JSON.stringify({ code: 'FAIL', message: 'forced' }));
        });
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/wechat_pay`, received, forceStatuses }));
  });
}

function lower(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), Array.isArray(value) ? value.join(',') : value]));
}

/** The shared poller, with this file's argument order and a 5 s default. */
const until = <T>(probe: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> => untilValue(what, probe, timeoutMs);

function ref(request: AuthorizeRequest, outcome?: ChannelOutcome): OrderRef {
  return { orderNo: request.orderNo, reference: outcome?.reference, amount: request.amount, currency: request.currency };
}

describe.each<WechatPayKeyMode>(['public_key', 'platform_certificate'])('WeChat Pay channel against the emulator (%s mode)', (mode) => {
  let app: FastifyInstance;
  let emulator: WechatPayEmulator;
  let channel: WechatPayChannel;
  let base = '';
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    emulator = createWechatPayEmulator({ publicUrl: () => base, mode, clockScale: 1000 });
    app = Fastify();
    await app.register(emulator.plugin);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    receiver = await startReceiver(() => channel);
    // One certificate download a second at most: after a rotation, WeChat's retries carry us past it.
    channel = createWechatPayChannel({ credentials: emulator.credentials(), notifyUrl: receiver.url, timeoutMs: 2_000, certificateRefreshMinIntervalMs: 1_000 });
  });

  afterAll(async () => {
    emulator?.stop();
    await app?.close();
    await new Promise((resolve) => receiver?.server.close(resolve));
  });

  function order(overrides: Partial<AuthorizeRequest> = {}): AuthorizeRequest {
    return {
      orderNo: `ch_${randomToken(20)}`,
      amount: 12_345n,
      currency: 'cny',
      capture: 'automatic',
      paymentMethod: { type: 'wechat_pay' },
      description: 'Fenpay test order',
      returnUrl: undefined,
      livemode: false,
      subject: '测试商品 · Test item',
      ...overrides,
    };
  }

  async function post(path: string, form: Record<string, string>): Promise<Response> {
    return await fetch(`${base}${emulator.prefix}${path}`, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
  }

  function notificationsFor(orderNo: string): ChannelNotification[] {
    return receiver.received.flatMap((r) => (r.verdict.ok && r.verdict.notification.orderNo === orderNo ? [r.verdict.notification] : []));
  }

  it('answers the health endpoint', async () => {
    const response = await fetch(`${base}${emulator.prefix}/health`);
    expect(await response.json()).toMatchObject({ status: 'ok', mode });
  });

  it('creates a Native order whose QR opens the buyer page; paying is seen by query and by a notification', async () => {
    const request = order();
    const outcome = await channel.authorize(request);
    expect(outcome).toMatchObject({ status: 'requires_action', reference: request.orderNo, action: { type: 'display_qr_code' } });
    if (outcome.status !== 'requires_action' || outcome.action.type !== 'display_qr_code') throw new Error('no QR');
    expect(outcome.action.data).toMatch(new RegExp(`^${base}${emulator.prefix}/pay\\?pr=[0-9A-Za-z]{24}$`));
    expect(outcome.action.imageUrl).toMatch(/^data:image\/png;base64,/);

    expect(await channel.query(ref(request))).toMatchObject({ status: 'processing', reason: expect.stringContaining('NOTPAY') });
    const pageHtml = await (await fetch(outcome.action.data)).text();
    expect(pageHtml).toContain('¥123.45');
    expect(pageHtml).toContain('确认支付');

    const pr = new URL(outcome.action.data).searchParams.get('pr') ?? '';
    const paid = await post('/pay', { pr, action: 'pay' });
    expect(paid.status).toBe(200);
    expect(await paid.text()).toContain('支付成功');

    const queried = await channel.query(ref(request));
    expect(queried).toMatchObject({ status: 'succeeded', amount: 12_345n, currency: 'cny', reference: expect.stringMatching(/^4200\d{24}$/) });
    const [notification] = await until(() => (notificationsFor(request.orderNo).length > 0 ? notificationsFor(request.orderNo) : undefined), 'payment notification');
    expect(notification).toMatchObject({ kind: 'payment', orderNo: request.orderNo, outcome: { status: 'succeeded', amount: 12_345n, reference: queried.reference } });
    expect(notification?.notificationId).toMatch(/^[0-9a-f-]{36}$/);
    const delivery = receiver.received.find((r) => r.verdict.ok && r.verdict.notification.orderNo === request.orderNo);
    expect(delivery?.answeredStatus).toBe(204);
    expect(delivery?.inbound.headers['wechatpay-serial']).toEqual(mode === 'public_key' ? emulator.credentials().publicKeyId : expect.stringMatching(/^[0-9A-F]{40}$/));

    // Same order number, same parameters: WeChat answers again; paid now, so ORDERPAID → ask a query.
    expect(await channel.authorize(request)).toMatchObject({ status: 'processing', reason: expect.stringContaining('ORDERPAID') });
  });

  it('marks a declined payment failed and a walked-away one still pending, then closes it', async () => {
    const declined = order();
    const declinedOutcome = await channel.authorize(declined);
    const pr = new URL((declinedOutcome as { action: { data: string } }).action.data).searchParams.get('pr') ?? '';
    expect((await post('/pay', { pr, action: 'decline' })).status).toBe(200);
    expect(await channel.query(ref(declined))).toMatchObject({ status: 'failed', failure: { code: 'processing_error', declineCode: 'payerror' } });

    const walked = order();
    const walkedOutcome = await channel.authorize(walked);
    const walkedPr = new URL((walkedOutcome as { action: { data: string } }).action.data).searchParams.get('pr') ?? '';
    expect((await post('/pay', { pr: walkedPr, action: 'walk_away' })).status).toBe(200);
    expect(await channel.query(ref(walked))).toMatchObject({ status: 'processing' });
    expect(await channel.cancel(ref(walked))).toEqual({ status: 'succeeded', reference: walked.orderNo });
    expect(await channel.query(ref(walked))).toMatchObject({ status: 'canceled' });
    // A closed order cannot be paid any more.
    expect((await post('/pay', { pr: walkedPr, action: 'pay' })).status).toBe(409);
    expect(notificationsFor(walked.orderNo)).toEqual([]);
  });

  it('refuses to close a paid order and reports an unknown one as processing', async () => {
    const request = order();
    await channel.authorize(request);
    expect(emulator.buyer(request.orderNo, 'pay')).toEqual({ ok: true });
    expect(await channel.cancel(ref(request))).toMatchObject({ status: 'failed', message: expect.stringContaining('ORDERPAID') });
    const unknown = order();
    expect(await channel.query(ref(unknown))).toMatchObject({ status: 'processing', reason: expect.stringContaining('ORDER_NOT_EXIST') });
    expect(await channel.cancel(ref(unknown))).toMatchObject({ status: 'processing' });
  });

  it('closes an order at its time_expire', async () => {
    const request = order({ expiresAt: new Date(Date.now() + 1_000) });
    expect((await channel.authorize(request)).status).toBe('requires_action');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await channel.query(ref(request))).toMatchObject({ status: 'canceled' });
  });

  it('gives JSAPI parameters signed with the merchant key, and needs the openid', async () => {
    expect(await channel.authorize(order({ flow: 'jsapi' }))).toMatchObject({ status: 'failed', failure: { message: expect.stringContaining('openid') } });
    const request = order({ flow: 'jsapi', payer: { openId: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } });
    const outcome = await channel.authorize(request);
    if (outcome.status !== 'requires_action' || outcome.action.type !== 'sdk_params') throw new Error(`expected sdk_params, got ${outcome.status}`);
    const params = outcome.action.params;
    expect(params).toMatchObject({ appId: emulator.credentials().appId, signType: 'RSA', package: expect.stringMatching(/^prepay_id=wx\d{14}[0-9a-z]{20}$/) });
    const publicKey = createPublicKey(emulator.credentials().merchantPrivateKey.reveal());
    const message = `${params.appId}\n${params.timeStamp}\n${params.nonceStr}\n${params.package}\n`;
    expect(createVerify('RSA-SHA256').update(message).verify(publicKey, params.paySign ?? '', 'base64')).toBe(true);

    const prepayId = (params.package ?? '').slice('prepay_id='.length);
    expect((await post('/pay', { prepay_id: prepayId, action: 'pay' })).status).toBe(200);
    const paid = await channel.query(ref(request));
    expect(paid).toMatchObject({ status: 'succeeded', amount: 12_345n });
  });

  it('gives App SDK parameters signed with the merchant key', async () => {
    const outcome = await channel.authorize(order({ flow: 'app' }));
    if (outcome.status !== 'requires_action' || outcome.action.type !== 'sdk_params') throw new Error(`expected sdk_params, got ${outcome.status}`);
    const params = outcome.action.params;
    expect(params).toMatchObject({ appid: emulator.credentials().appId, partnerid: emulator.credentials().mchId, package: 'Sign=WXPay' });
    const publicKey = createPublicKey(emulator.credentials().merchantPrivateKey.reveal());
    const message = `${params.appid}\n${params.timestamp}\n${params.noncestr}\n${params.prepayid}\n`;
    expect(createVerify('RSA-SHA256').update(message).verify(publicKey, params.sign ?? '', 'base64')).toBe(true);
  });

  it('redirects an H5 payer to the h5_url and back to the merchant after paying', async () => {
    expect(await channel.authorize(order({ flow: 'wap' }))).toMatchObject({ status: 'failed', failure: { message: expect.stringContaining('IP') } });
    const returnUrl = 'https://shop.example.test/done?order=7';
    const request = order({ flow: 'wap', returnUrl, payer: { clientIp: '203.0.113.9' } });
    const outcome = await channel.authorize(request);
    if (outcome.status !== 'requires_action' || outcome.action.type !== 'redirect_to_url') throw new Error(`expected a redirect, got ${outcome.status}`);
    const url = new URL(outcome.action.url);
    expect(url.searchParams.get('redirect_url')).toBe(returnUrl);
    const pageHtml = await (await fetch(url)).text();
    expect(pageHtml).toContain('name="redirect_url"');
    const paid = await post('/pay', { prepay_id: url.searchParams.get('prepay_id') ?? '', redirect_url: returnUrl, action: 'pay' });
    expect(paid.status).toBe(303);
    expect(paid.headers.get('location')).toBe(returnUrl);
    expect(await channel.query(ref(request))).toMatchObject({ status: 'succeeded' });
  });

  it('refuses non-CNY orders and the same order number with other parameters', async () => {
    expect(await channel.authorize(order({ currency: 'usd' }))).toMatchObject({ status: 'failed', failure: { message: expect.stringContaining('CNY') } });
    const request = order();
    await channel.authorize(request);
    // OUT_TRADE_NO_USED: the number belongs to another order, which may be paid: unknown, not failed.
    expect(await channel.authorize({ ...request, amount: 1n })).toMatchObject({ status: 'processing', reason: expect.stringContaining('OUT_TRADE_NO_USED') });
  });

  it('refunds in parts, settles asynchronously with notifications, and refuses to refund more than was paid', async () => {
    const request = order({ amount: 10_000n });
    await channel.authorize(request);
    emulator.buyer(request.orderNo, 'pay');
    const paid = ref(request, await channel.query(ref(request)));
    const first = { ...paid, refundNo: `re_${randomToken(20)}`, refundAmount: 3_000n };
    const second = { ...paid, refundNo: `re_${randomToken(20)}`, refundAmount: 7_000n };
    expect(await channel.refund(first)).toMatchObject({ status: 'processing', reason: expect.stringContaining('processing') });
    expect(await channel.refund(second)).toMatchObject({ status: 'processing' });
    expect(await channel.refund({ ...paid, refundNo: `re_${randomToken(20)}`, refundAmount: 1n })).toMatchObject({
      status: 'failed',
      message: expect.stringContaining('INVALID_REQUEST'),
    });
    const settled = await until(() => (notificationsFor(request.orderNo).filter((n) => n.kind === 'refund').length === 2 ? true : undefined), 'refund notifications');
    expect(settled).toBe(true);
    expect(await channel.queryRefund(first)).toMatchObject({ status: 'succeeded', reference: expect.stringMatching(/^50\d{27}$/) });
    expect(await channel.queryRefund(second)).toMatchObject({ status: 'succeeded' });
    const refundNotes = notificationsFor(request.orderNo).filter((n) => n.kind === 'refund');
    expect(refundNotes.map((n) => (n.kind === 'refund' ? [n.refundNo, n.amount, n.outcome.status] : [])).sort()).toEqual(
      [
        [first.refundNo, 3_000n, 'succeeded'],
        [second.refundNo, 7_000n, 'succeeded'],
      ].sort(),
    );
    // Paid, then refunded: still a success for the payment (REFUND).
    expect(await channel.query(paid)).toMatchObject({ status: 'succeeded', amount: 10_000n });
    // Asking again with the same refund number is idempotent at WeChat.
    expect(await channel.refund(first)).toMatchObject({ status: 'succeeded' });
    expect(await channel.queryRefund({ ...paid, refundNo: 're_never_sent', refundAmount: 1n })).toMatchObject({ status: 'processing' });
  });

  it('reports ABNORMAL refunds as processing and CLOSED ones as failed', async () => {
    const request = order({ amount: 500n });
    await channel.authorize(request);
    emulator.buyer(request.orderNo, 'pay');
    const paid = ref(request, await channel.query(ref(request)));
    emulator.faults.arm('refund_abnormal');
    const abnormal = { ...paid, refundNo: `re_${randomToken(20)}`, refundAmount: 100n };
    await channel.refund(abnormal);
    emulator.faults.arm('refund_closed');
    const closed = { ...paid, refundNo: `re_${randomToken(20)}`, refundAmount: 200n };
    await channel.refund(closed);
    await until(() => (notificationsFor(request.orderNo).filter((n) => n.kind === 'refund').length === 2 ? true : undefined), 'refund notifications');
    expect(await channel.queryRefund(abnormal)).toMatchObject({ status: 'processing', reason: expect.stringContaining('ABNORMAL') });
    expect(await channel.queryRefund(closed)).toMatchObject({ status: 'failed' });
  });

  it('retries a notification we answer with 500 on the compressed schedule, with the same id', async () => {
    receiver.forceStatuses.push(500, 500, 500);
    const request = order();
    await channel.authorize(request);
    emulator.buyer(request.orderNo, 'pay');
    await until(() => (receiver.received.filter((r) => r.verdict.ok && r.verdict.notification.orderNo === request.orderNo).length >= 4 ? true : undefined), 'four deliveries');
    const deliveries = receiver.received.filter((r) => r.verdict.ok && r.verdict.notification.orderNo === request.orderNo);
    expect(deliveries.map((d) => d.answeredStatus)).toEqual([500, 500, 500, 204]);
    expect(new Set(notificationsFor(request.orderNo).map((n) => n.notificationId)).size).toBe(1);
    const id = notificationsFor(request.orderNo)[0]?.notificationId;
    // The emulator logs an attempt once it has read our answer, a moment after we sent it.
    const log = await until(() => {
      const attempts = emulator.notifications().filter((d) => d.id === id);
      return attempts.length >= 4 ? attempts : undefined;
    }, 'four logged attempts');
    expect(log.map((d) => [d.attempt, d.status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 500],
      [4, 204],
    ]);
  });

  it('rejects a tampered body, a stale timestamp and a signature-test probe', async () => {
    emulator.faults.arm('notify_sign_test');
    const request = order();
    await channel.authorize(request);
    emulator.buyer(request.orderNo, 'pay');
    await until(() => (notificationsFor(request.orderNo).length > 0 ? true : undefined), 'the real notification');
    const probe = receiver.received.find((r) => !r.verdict.ok && (r.inbound.headers['wechatpay-signature'] ?? '').startsWith('WECHATPAY/SIGNTEST/'));
    expect(probe?.verdict).toMatchObject({ ok: false, reason: expect.stringContaining('signature-test probe') });
    expect(probe?.answeredStatus).toBe(401);
    if (probe === undefined || probe.verdict.ok) throw new Error('no probe');
    expect(JSON.parse(probe.verdict.reply.body)).toMatchObject({ code: 'FAIL' });

    const genuine = receiver.received.find((r) => r.verdict.ok && r.verdict.notification.orderNo === request.orderNo);
    if (genuine === undefined) throw new Error('no genuine notification');
    expect((await channel.parseNotification(genuine.inbound)).ok).toBe(true);
    const text = genuine.inbound.rawBody.toString('utf8');
    const tampered = { ...genuine.inbound, rawBody: Buffer.from(text.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" ')) };
    expect(await channel.parseNotification(tampered)).toMatchObject({ ok: false, reason: 'the signature does not verify', reply: { status: 401 } });
    const later = createWechatPayChannel({ credentials: emulator.credentials(), now: () => new Date(Date.now() + 6 * 60_000), certificateRefreshMinIntervalMs: 0 });
    expect(await later.parseNotification(genuine.inbound)).toMatchObject({ ok: false, reason: expect.stringContaining('5-minute window') });
    const unsigned = { ...genuine.inbound, headers: { ...genuine.inbound.headers, 'wechatpay-signature': undefined } };
    expect(await channel.parseNotification(unsigned)).toMatchObject({ ok: false });
  });

  it('delivers duplicates with the same id, out of order, and not at all when told', async () => {
    emulator.faults.arm('notify_duplicate');
    const duplicated = order();
    await channel.authorize(duplicated);
    emulator.buyer(duplicated.orderNo, 'pay');
    const copies = await until(() => (notificationsFor(duplicated.orderNo).length === 2 ? notificationsFor(duplicated.orderNo) : undefined), 'two copies');
    expect(copies[0]?.notificationId).toBe(copies[1]?.notificationId);

    const a = order();
    const b = order();
    await channel.authorize(a);
    await channel.authorize(b);
    emulator.faults.arm('notify_out_of_order');
    emulator.buyer(a.orderNo, 'pay');
    emulator.buyer(b.orderNo, 'pay');
    await until(() => (notificationsFor(a.orderNo).length > 0 && notificationsFor(b.orderNo).length > 0 ? true : undefined), 'both notifications');
    const order_ = receiver.received.filter((r) => r.verdict.ok && [a.orderNo, b.orderNo].includes(r.verdict.notification.orderNo)).map((r) => (r.verdict.ok ? r.verdict.notification.orderNo : ''));
    expect(order_).toEqual([b.orderNo, a.orderNo]);

    emulator.faults.arm('notify_drop');
    const dropped = order();
    await channel.authorize(dropped);
    emulator.buyer(dropped.orderNo, 'pay');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(notificationsFor(dropped.orderNo)).toEqual([]);
    // Without a notification, the query still finds the payment.
    expect(await channel.query(ref(dropped))).toMatchObject({ status: 'succeeded' });
  });

  describe('fault switches never produce a wrong final answer', () => {
    const apiFaults = ['http_500', 'system_error', 'bad_signature', 'hang'] as const;

    it.each(apiFaults)('%s on create, query, close and refund is processing; the truth is found afterwards', async (kind) => {
      const quick = createWechatPayChannel({ credentials: emulator.credentials(), notifyUrl: receiver.url, timeoutMs: 400 });
      const request = order();
      emulator.faults.arm(kind);
      expect(await quick.authorize(request)).toMatchObject({ status: 'processing', reference: request.orderNo });
      // The order was created all the same.
      expect(await quick.query(ref(request))).toMatchObject({ status: 'processing', reason: expect.stringContaining('NOTPAY') });

      emulator.buyer(request.orderNo, 'pay');
      emulator.faults.arm(kind);
      expect(await quick.query(ref(request))).toMatchObject({ status: 'processing' });
      const paid = ref(request, await quick.query(ref(request)));
      expect(paid.reference).toMatch(/^4200/);

      emulator.faults.arm(kind);
      expect(await quick.cancel(paid)).toMatchObject({ status: 'processing' });

      const refund = { ...paid, refundNo: `re_${randomToken(20)}`, refundAmount: 45n };
      emulator.faults.arm(kind);
      expect(await quick.refund(refund)).toMatchObject({ status: 'processing' });
      emulator.faults.arm(kind);
      expect(await quick.queryRefund(refund)).toMatchObject({ status: 'processing' });
      // The refund went through although its answers were lost.
      const settled = await (async () => {
        for (let i = 0; i < 100; i += 1) {
          const outcome = await quick.queryRefund(refund);
          if (outcome.status !== 'processing') return outcome;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return undefined;
      })();
      expect(settled).toMatchObject({ status: 'succeeded' });
      expect(emulator.faults.pending()).toEqual({});
    });

    it('arms faults through the control API', async () => {
      const armed = await fetch(`${base}${emulator.prefix}/_control/faults`, { method: 'POST', body: JSON.stringify({ kind: 'system_error', count: 2 }), headers: { 'content-type': 'application/json' } });
      expect(await armed.json()).toEqual({ pending: { system_error: 2 } });
      const request = order();
      expect(await channel.authorize(request)).toMatchObject({ status: 'processing', reason: expect.stringContaining('SYSTEM_ERROR') });
      expect(await channel.query(ref(request))).toMatchObject({ status: 'processing', reason: expect.stringContaining('SYSTEM_ERROR') });
      expect(await channel.query(ref(request))).toMatchObject({ status: 'processing', reason: expect.stringContaining('NOTPAY') });
      const bad = await fetch(`${base}${emulator.prefix}/_control/faults`, { method: 'POST', body: JSON.stringify({ kind: 'explode' }), headers: { 'content-type': 'application/json' } });
      expect(bad.status).toBe(400);
      await fetch(`${base}${emulator.prefix}/_control/faults`, { method: 'POST', body: JSON.stringify({ kind: 'hang', count: 3 }), headers: { 'content-type': 'application/json' } });
      const cleared = await fetch(`${base}${emulator.prefix}/_control/faults`, { method: 'DELETE' });
      expect(await cleared.json()).toEqual({ pending: {} });
    });
  });

  it('rejects requests signed with another key (401 SIGN_ERROR), and nothing is created', async () => {
    const other = createWechatPayEmulator({ publicUrl: 'http://127.0.0.1:1', mode });
    const wrongKey = createWechatPayChannel({
      credentials: { ...emulator.credentials(), merchantPrivateKey: other.credentials().merchantPrivateKey },
      notifyUrl: receiver.url,
    });
    const request = order();
    // With a public key the signed 401 verifies: a clear refusal. In certificate mode the wrong key
    // cannot even download the certificates, so the 401 cannot be verified and stays unknown.
    expect(await wrongKey.authorize(request)).toMatchObject(
      mode === 'public_key' ? { status: 'failed', failure: { declineCode: 'sign_error' } } : { status: 'processing', reason: expect.stringContaining('HTTP 401') },
    );
    expect(await channel.query(ref(request))).toMatchObject({ status: 'processing', reason: expect.stringContaining('ORDER_NOT_EXIST') });
    other.stop();
  });

  it("does not trust answers signed by anyone but the emulator's platform key", async () => {
    const other = createWechatPayEmulator({ publicUrl: 'http://127.0.0.1:1', mode: 'public_key' });
    const credentials = emulator.credentials();
    const misled = createWechatPayChannel({
      credentials: { ...credentials, platformPublicKey: other.credentials().platformPublicKey, publicKeyId: credentials.publicKeyId ?? 'PUB_KEY_ID_0000' },
      notifyUrl: receiver.url,
    });
    const request = order();
    expect(await misled.authorize(request)).toMatchObject({ status: 'processing' });
    other.stop();
  });

  it('downloads the trade bill and finds our payments and refunds in it', async () => {
    const request = order({ amount: 2_000n, subject: 'Bill item' });
    await channel.authorize(request);
    emulator.buyer(request.orderNo, 'pay');
    const paid = ref(request, await channel.query(ref(request)));
    const refund = { ...paid, refundNo: `re_${randomToken(20)}`, refundAmount: 500n };
    await channel.refund(refund);
    await until(() => (notificationsFor(request.orderNo).some((n) => n.kind === 'refund') ? true : undefined), 'refund settled');
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const result = await channel.tradeBill(today);
    if (result.status !== 'succeeded') throw new Error(`bill ${result.status}`);
    expect(result.csv.startsWith('\uFEFF交易时间,公众账号ID,商户号')).toBe(true);
    const rows = result.bill.rows.filter((row) => row.outTradeNo === request.orderNo);
    expect(rows.map((row) => [row.tradeState, row.settlementAmount, row.refundAmount, row.fee, row.outRefundNo, row.refundStatus])).toEqual([
      ['SUCCESS', 2_000n, 0n, 12n, '0', ''],
      ['REFUND', 0n, 500n, -3n, refund.refundNo, 'SUCCESS'],
    ]);
    expect(rows[0]?.transactionId).toBe(paid.reference);
    expect(rows[0]?.description).toBe('Bill item');
    const { summary } = result.bill;
    expect(summary.tradeCount).toBe(result.bill.rows.length);
    expect(summary.settlementTotal).toBe(result.bill.rows.reduce((sum, row) => sum + row.settlementAmount, 0n));
    expect(summary.refundTotal).toBe(result.bill.rows.reduce((sum, row) => sum + row.refundAmount, 0n));
    expect(summary.feeTotal).toBe(result.bill.rows.reduce((sum, row) => sum + row.fee, 0n));

    expect(await channel.tradeBill('2001-01-01')).toMatchObject({ status: 'failed', message: expect.stringContaining('NO_STATEMENT_EXIST') });
    emulator.faults.arm('bad_signature');
    expect(await channel.tradeBill(today)).toMatchObject({ status: 'processing' });
  });

  it('capture is not a WeChat Pay operation', async () => {
    expect(channel.capabilities).toMatchObject({ manualCapture: false, partialCapture: false, refund: true, partialRefund: true, cancel: true, query: true });
    expect(await channel.capture({ orderNo: 'x', reference: undefined, amount: 1n, currency: 'cny', amountToCapture: 1n })).toMatchObject({ status: 'failed' });
  });

  if (mode === 'platform_certificate') {
    it('serves real X.509 certificates and follows a rotation by downloading them again', async () => {
      const rotating = createWechatPayChannel({ credentials: emulator.credentials(), notifyUrl: receiver.url, certificateRefreshMinIntervalMs: 0 });
      expect((await rotating.authorize(order())).status).toBe('requires_action');
      const serial = await emulator.rotatePlatformCertificate();
      const request = order();
      expect((await rotating.authorize(request)).status).toBe('requires_action');
      emulator.buyer(request.orderNo, 'pay');
      const delivery = await until(() => receiver.received.find((r) => r.verdict.ok && r.verdict.notification.orderNo === request.orderNo), 'notification after rotation');
      expect(delivery.inbound.headers['wechatpay-serial']).toBe(serial);
    });
  }
});
