/**
 * The UnionPay adapter driven against the UnionPay emulator over real HTTP: Fastify on 127.0.0.1:0
 * for the emulator, a tiny node:http server as the merchant's backUrl and frontUrl, and fetch as the
 * payer's browser. Notification resends run on a compressed clock.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomToken } from '../../kernel/index.ts';
import type { AuthorizeRequest, ChannelAdapter, ChannelNotification, ChannelOutcome, InboundHttp, OrderRef, RefundRequest, VerifiedNotification } from '../channel.ts';
import { createUnionPayEmulator, type UnionPayEmulator } from '../../sandbox/unionpay/index.ts';
import { createUnionPayChannel } from './index.ts';
import { signingDigestHex } from './unionpay-sign.ts';
import { createVerify, X509Certificate } from 'node:crypto';
import { until as untilValue } from '../../../test/support/until.ts';

/** 60 000: a minute of UnionPay's resend schedule lasts a millisecond. */
const clockScale = 60_000;
let clockMs = Date.UTC(2031, 5, 15, 4, 0, 0); // 12:00 in Beijing
const now = () => new Date(clockMs);

/** Runs `body` with the shared clock `ms` ahead, then puts it back. */
async function later<T>(ms: number, body: () => Promise<T>): Promise<T> {
  clockMs += ms;
  try {
    return await body();
  } finally {
    clockMs -= ms;
  }
}

/** What the emulator holds as refunded on the payment `orderNo`. */
function refundedAtEmulator(orderNo: string): bigint | undefined {
  const consume = emulator.transactions().find((t) => t.orderId === orderNo);
  return consume?.txnType === '01' ? consume.amountRefunded : undefined;
}

let app: FastifyInstance;
let emulator: UnionPayEmulator;
let channel: ChannelAdapter;
let merchant: Server;
let merchantUrl: string;
let emulatorUrl: string;

interface Received {
  readonly http: InboundHttp;
  readonly verified: VerifiedNotification;
  readonly status: number;
}
const received: Received[] = [];
/** Statuses the merchant answers with before it starts processing notifications. */
const merchantDown: number[] = [];
const returned: { path: string; body: string }[] = [];

beforeAll(async () => {
  merchant = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void (async () => {
        const rawBody = Buffer.concat(chunks);
        const path = request.url ?? '/';
        if (path.startsWith('/return')) {
          returned.push({ path, body: rawBody.toString('utf8') });
          response.writeHead(200, { 'content-type': 'text/html' }).end('thanks');
          return;
        }
        const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
        const http: InboundHttp = { method: request.method ?? 'GET', path, headers, rawBody };
        const verified = await channel.parseNotification!(http);
        const forced = merchantDown.shift();
        const reply = verified.ok ? verified.ack : verified.reply;
        const status = forced ?? reply.status;
        received.push({ http, verified, status });
        response.writeHead(status, { 'content-type': reply.contentType }).end(forced === undefined ? reply.body : 'down');
      })();
    });
  });
  await new Promise<void>((resolve) => merchant.listen(0, '127.0.0.1', resolve));
  merchantUrl = `http://127.0.0.1:${(merchant.address() as AddressInfo).port}`;

  emulator = await createUnionPayEmulator({ publicUrl: () => emulatorUrl, now, clockScale });
  app = Fastify();
  await app.register(emulator.plugin);
  await app.listen({ host: '127.0.0.1', port: 0 });
  emulatorUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  channel = createUnionPayChannel({ test: emulator.credentials(), notifyUrl: `${merchantUrl}/hooks/unionpay`, timeoutMs: 1_000, now });
});

afterAll(async () => {
  emulator?.stop();
  await app?.close();
  await new Promise((resolve) => merchant?.close(resolve));
});

beforeEach(() => {
  emulator.faults.clear();
  merchantDown.length = 0;
});

function paymentRequest(overrides: Partial<AuthorizeRequest> = {}): AuthorizeRequest {
  return {
    orderNo: randomToken(24),
    amount: 2_000n,
    currency: 'cny',
    capture: 'automatic',
    paymentMethod: { type: 'unionpay' },
    description: 'Green tea',
    returnUrl: `${merchantUrl}/return?order=1`,
    notifyUrl: `${merchantUrl}/hooks/unionpay`,
    livemode: false,
    flow: 'page',
    expiresAt: new Date(clockMs + 30 * 60_000),
    ...overrides,
  };
}

function formOf(outcome: ChannelOutcome): { url: string; fields: Readonly<Record<string, string>> } {
  if (outcome.status !== 'requires_action' || outcome.action.type !== 'post_form') throw new Error(`expected a post_form, got ${JSON.stringify(outcome)}`);
  return outcome.action;
}

const unescape = (value: string) => value.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));

/** The payer's browser: posts the form and reads the cashier page. */
async function openCashier(outcome: ChannelOutcome): Promise<{ status: number; html: string; actionPath: string | undefined }> {
  const { url, fields } = formOf(outcome);
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams(Object.entries(fields)) });
  const html = await response.text();
  return { status: response.status, html, actionPath: /action="([^"]+\/cashier\/[^"]+)"/.exec(html)?.[1] };
}

async function choose(actionPath: string, action: 'approve' | 'decline' | 'walk_away') {
  const response = await fetch(`${emulatorUrl}${unescape(actionPath)}`, { method: 'POST', body: new URLSearchParams({ action }) });
  const html = await response.text();
  const frontForm = /<form id="return" method="post" action="([^"]+)">(.*?)<button/s.exec(html);
  const fields: Record<string, string> = {};
  for (const match of (frontForm?.[2] ?? '').matchAll(/name="([^"]+)" value="([^"]*)"/g)) fields[unescape(match[1]!)] = unescape(match[2]!);
  return { status: response.status, html, frontUrl: frontForm ? unescape(frontForm[1]!) : undefined, fields };
}

async function pay(request = paymentRequest(), action: 'approve' | 'decline' | 'walk_away' = 'approve') {
  const outcome = await channel.authorize(request);
  const cashier = await openCashier(outcome);
  const choice = await choose(cashier.actionPath!, action);
  return { request, outcome, choice };
}

function refOf(request: AuthorizeRequest, outcome: ChannelOutcome): OrderRef {
  return { orderNo: request.orderNo, reference: outcome.reference, amount: request.amount, currency: request.currency };
}

/** The shared poller, with this file's argument order and a 5 s default. */
const until = <T>(probe: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> => untilValue(what, probe, timeoutMs);

function notificationsFor(orderNo: string): ChannelNotification[] {
  return received.flatMap((r) => (r.verified.ok && r.verified.notification.orderNo === orderNo ? [r.verified.notification] : []));
}

async function paidOrder() {
  const { request } = await pay();
  const notification = await until(() => notificationsFor(request.orderNo)[0], 'the payment notification');
  if (notification.kind !== 'payment') throw new Error('expected a payment notification');
  return { request, order: refOf(request, notification.outcome) };
}

describe('the channel', () => {
  it('describes itself as a redirect method without manual capture', () => {
    expect(channel.id).toBe('unionpay');
    expect(channel.paymentMethodTypes).toEqual(['unionpay']);
    expect(channel.modes).toEqual(['test']);
    expect(channel.capabilities).toEqual({ manualCapture: false, partialCapture: false, refund: true, partialRefund: true, cancel: true, query: true });
  });

  it('refuses capture clearly', async () => {
    const outcome = await channel.capture({ orderNo: 'Order0001', reference: undefined, amount: 1n, currency: 'cny', amountToCapture: 1n });
    expect(outcome).toMatchObject({ status: 'failed', message: expect.stringMatching(/^operation_not_supported/) });
  });

  it('refuses a currency other than CNY without calling UnionPay', async () => {
    expect(await channel.authorize(paymentRequest({ currency: 'usd' }))).toMatchObject({ status: 'failed', failure: { code: 'processing_error' } });
  });
});

describe('authorize', () => {
  it('returns a signed front consume form, with nothing sent to UnionPay yet', async () => {
    const request = paymentRequest({ flow: 'wap' });
    const before = emulator.transactions().length;
    const outcome = await channel.authorize(request);
    expect(outcome).toMatchObject({ status: 'requires_action', reference: 'test.20310615120000' });
    const { url, fields } = formOf(outcome);
    expect(url).toBe(`${emulatorUrl}/sandbox/unionpay/frontTransReq.do`);
    expect(fields).toMatchObject({
      version: '5.1.0',
      signMethod: '01',
      txnType: '01',
      txnSubType: '01',
      bizType: '000201',
      channelType: '08',
      accessType: '0',
      orderId: request.orderNo,
      txnTime: '20310615120000',
      txnAmt: '2000',
      currencyCode: '156',
      frontUrl: request.returnUrl,
      backUrl: request.notifyUrl,
      payTimeout: '20310615123000',
      merId: emulator.credentials().merId,
      certId: emulator.pki.merchant.certId,
    });
    const verifier = createVerify('RSA-SHA256').update(signingDigestHex(fields));
    expect(verifier.verify(new X509Certificate(emulator.pki.merchant.certPem).publicKey, fields['signature']!, 'base64')).toBe(true);
    expect(emulator.transactions().length).toBe(before);
  });

  it('opens the bilingual cashier when the browser posts the form', async () => {
    const cashier = await openCashier(await channel.authorize(paymentRequest({ amount: 12_345n })));
    expect(cashier.status).toBe(200);
    expect(cashier.html).toContain('银联在线支付');
    expect(cashier.html).toContain('UnionPay online payment');
    expect(cashier.html).toContain('¥123.45');
    expect(cashier.html).toContain('name="viewport"');
    for (const action of ['approve', 'decline', 'walk_away']) expect(cashier.html).toContain(`data-action="${action}"`);
    expect(cashier.html).not.toMatch(/<(link|img|script)[^>]+(src|href)=/);
    expect(cashier.html).not.toMatch(/card number"|name="accNo"/);
  });

  it('is refused at the cashier with respCode 11 when the form was tampered with', async () => {
    const { url, fields } = formOf(await channel.authorize(paymentRequest()));
    const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ ...fields, txnAmt: '1' }) });
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toContain('验证签名失败');
    expect(html).toContain('respCode 11');
  });
});

describe('the payer approves', () => {
  it('returns the browser to frontUrl with signed fields, notifies backUrl, and queries as succeeded', async () => {
    const { request, outcome, choice } = await pay();
    expect(choice.frontUrl).toBe(request.returnUrl);
    expect(choice.fields).toMatchObject({ orderId: request.orderNo, respCode: '00', txnAmt: '2000', txnType: '01' });
    const front = await channel.parseNotification!({
      method: 'POST',
      path: '/return',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      rawBody: Buffer.from(new URLSearchParams(choice.fields).toString()),
    });
    expect(front.ok).toBe(true);

    const notification = await until(() => notificationsFor(request.orderNo)[0], 'the back notification');
    const queryId = choice.fields['queryId']!;
    expect(notification).toEqual({
      kind: 'payment',
      notificationId: `${queryId}:01:00`,
      orderNo: request.orderNo,
      outcome: { status: 'succeeded', reference: `test.20310615120000.${queryId}`, amount: 2000n, currency: 'cny' },
    });
    const ack = received.find((r) => r.verified.ok && r.verified.notification.orderNo === request.orderNo)!;
    expect(ack.status).toBe(200);
    expect(ack.verified.ok && ack.verified.ack).toEqual({ status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok' });

    expect(await channel.query(refOf(request, outcome))).toEqual({ status: 'succeeded', reference: `test.20310615120000.${queryId}`, amount: 2000n, currency: 'cny' });
  });

  it('rejects a tampered notification with 400 so UnionPay sends it again', async () => {
    const { request } = await pay();
    const original = await until(() => received.find((r) => r.verified.ok && r.verified.notification.orderNo === request.orderNo), 'the notification');
    const tampered = new URLSearchParams(original.http.rawBody.toString('utf8'));
    tampered.set('txnAmt', '1');
    const verdict = await channel.parseNotification!({ ...original.http, rawBody: Buffer.from(tampered.toString()) });
    expect(verdict).toEqual({ ok: false, reason: 'the signature does not verify', reply: { status: 400, contentType: 'text/plain; charset=utf-8', body: 'fail' } });
    const swappedCert = new URLSearchParams(original.http.rawBody.toString('utf8'));
    swappedCert.set('signPubKeyCert', emulator.pki.merchant.certPem);
    expect((await channel.parseNotification!({ ...original.http, rawBody: Buffer.from(swappedCert.toString()) })).ok).toBe(false);
    expect((await channel.parseNotification!({ ...original.http, method: 'GET' })).ok).toBe(false);
  });

  it('is resent on non-200 answers on UnionPay schedule until the merchant takes it', async () => {
    merchantDown.push(503, 500);
    const { request } = await pay();
    // The merchant sees the third copy before the emulator has recorded the answer to it: wait for that record.
    await until(() => emulator.notifications.deliveries().filter((d) => d.orderId === request.orderNo && d.result === 200).length >= 1 || undefined, 'three deliveries, the last accepted');
    const deliveries = emulator.notifications.deliveries().filter((d) => d.orderId === request.orderNo);
    expect(deliveries.map((d) => [d.attempt, d.result])).toEqual([
      [1, 503],
      [2, 500],
      [3, 200],
    ]);
    // Every copy verifies and carries the same notificationId, so Fenpay stores it once.
    expect(new Set(notificationsFor(request.orderNo).map((n) => n.notificationId)).size).toBe(1);
  });

  it('stops after five sends when the merchant never takes it', async () => {
    merchantDown.push(500, 500, 500, 500, 500, 500);
    const { request } = await pay();
    await emulator.notifications.idle();
    const attempts = emulator.notifications.deliveries().filter((d) => d.orderId === request.orderNo);
    expect(attempts.map((d) => d.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(attempts.every((d) => d.result === 500)).toBe(true);
  });
});

describe('the payer declines or walks away', () => {
  it('a decline queries as failed and sends no notification', async () => {
    const { request, outcome, choice } = await pay(paymentRequest(), 'decline');
    expect(choice.fields['respCode']).toBe('60');
    expect(await channel.query(refOf(request, outcome))).toMatchObject({
      status: 'failed',
      reference: expect.stringMatching(/^test\.20310615120000\.\d{21}$/),
      failure: { code: 'card_declined', declineCode: 'generic_decline' },
    });
    await emulator.notifications.idle();
    expect(emulator.notifications.deliveries().filter((d) => d.orderId === request.orderNo)).toEqual([]);
  });

  it('an order not yet paid, or walked away from, stays processing (34 is not a failure)', async () => {
    const request = paymentRequest();
    const outcome = await channel.authorize(request);
    expect(await channel.query(refOf(request, outcome))).toEqual({ status: 'processing', reference: 'test.20310615120000', reason: 'unionpay_order_not_found_yet' });
    const cashier = await openCashier(outcome);
    expect((await channel.query(refOf(request, outcome))).status).toBe('processing');
    const left = await choose(cashier.actionPath!, 'walk_away');
    expect(left.html).toContain('Nothing was charged');
    expect(await channel.query(refOf(request, outcome))).toMatchObject({ status: 'processing', reason: 'unionpay_order_not_found_yet' });
    expect(await channel.cancel(refOf(request, outcome))).toEqual({ status: 'succeeded', reference: 'unpaid_nothing_to_cancel.20310615120000' });
  });
});

describe('same-day cancel', () => {
  it('cancels a paid order with txnType 31 and the cancel is notified', async () => {
    const { request, order } = await paidOrder();
    const outcome = await channel.cancel(order);
    expect(outcome).toMatchObject({ status: 'succeeded', reference: expect.stringMatching(/^\d{21}$/) });
    const canceled = await until(() => notificationsFor(request.orderNo).find((n) => n.kind === 'payment' && n.outcome.status === 'canceled'), 'the cancel notification');
    expect(canceled.notificationId).toMatch(/:31:00$/);
    const refund: RefundRequest = { ...order, refundNo: randomToken(24), refundAmount: 100n };
    expect(await channel.refund(refund)).toMatchObject({ status: 'failed', message: expect.stringMatching(/^UnionPay 35/) });
    // A second cancel must not pretend a second 31 went through.
    expect((await channel.cancel(order)).status).toBe('processing');
  });

  it('is refused on a later day', async () => {
    const { order } = await paidOrder();
    await later(24 * 60 * 60_000, async () => {
      expect(await channel.cancel(order)).toMatchObject({ status: 'failed', message: expect.stringMatching(/^UnionPay 35/) });
    });
  });
});

describe('refunds', () => {
  it('refunds partially, is notified, answers refund queries, and refuses to refund more than was paid', async () => {
    const { request, order } = await paidOrder();
    const first: RefundRequest = { ...order, refundNo: randomToken(24), refundAmount: 500n };
    expect(await channel.refund(first)).toEqual({ status: 'processing', reason: 'unionpay_refund_accepted' });
    expect(await channel.queryRefund!(first)).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^\d{21}$/) });
    const notified = await until(() => notificationsFor(request.orderNo).find((n) => n.kind === 'refund' && n.refundNo === first.refundNo), 'the refund notification');
    expect(notified).toMatchObject({ kind: 'refund', orderNo: request.orderNo, amount: 500n, outcome: { status: 'succeeded' } });

    const second: RefundRequest = { ...order, refundNo: randomToken(24), refundAmount: 1_500n };
    expect((await channel.refund(second)).status).toBe('processing');
    expect((await channel.queryRefund!(second)).status).toBe('succeeded');

    const third: RefundRequest = { ...order, refundNo: randomToken(24), refundAmount: 1n };
    expect(await channel.refund(third)).toMatchObject({ status: 'failed', message: expect.stringMatching(/^UnionPay 33/) });
    expect(await channel.queryRefund!(third)).toMatchObject({ status: 'processing' });
    expect(refundedAtEmulator(request.orderNo)).toBe(2_000n);
  });

  it('retries a refund as the same transaction, even seconds later: the query still finds it', async () => {
    const { order } = await paidOrder();
    const refund: RefundRequest = { ...order, refundNo: randomToken(24), refundAmount: 300n };
    expect((await channel.refund(refund)).status).toBe('processing');
    // A retry in a later second (a slow first answer, a retry after a timeout) must name the same
    // orderId + txnTime: UnionPay refuses the orderId again (12) and finds the refund only by its own txnTime.
    await later(5_000, async () => {
      expect((await channel.refund(refund)).status).toBe('processing');
      expect(await channel.queryRefund!(refund)).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^\d{21}$/) });
    });
    expect(refundedAtEmulator(order.orderNo)).toBe(300n);
  });

  it('sends and queries a refund under the time it was requested, so a restarted process finds it', async () => {
    const { order } = await paidOrder();
    const requestedAt = new Date(clockMs);
    const refund: RefundRequest = { ...order, refundNo: randomToken(24), refundAmount: 200n, requestedAt };
    expect((await channel.refund(refund)).status).toBe('processing');
    await later(90_000, async () => {
      // A new adapter instance remembers nothing: the stored request time is all it has.
      const restarted = createUnionPayChannel({ test: emulator.credentials(), notifyUrl: `${merchantUrl}/hooks/unionpay`, timeoutMs: 1_000, now });
      expect(await restarted.queryRefund!(refund)).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^\d{21}$/) });
      expect((await restarted.refund(refund)).status).toBe('processing');
      expect(await restarted.queryRefund!(refund)).toMatchObject({ status: 'succeeded' });
    });
    expect(refundedAtEmulator(order.orderNo)).toBe(200n);
  });

  it('does not know a refund it never sent', async () => {
    const { order } = await paidOrder();
    expect(await channel.queryRefund!({ ...order, refundNo: randomToken(24), refundAmount: 1n })).toEqual({ status: 'processing', reason: 'unionpay_refund_txnTime_unknown' });
  });
});

describe('faults never give a wrong final answer', () => {
  it.each(['http_500', 'resp_code_03', 'hang', 'bad_signature', 'untrusted_cert'] as const)('%s on a query is processing, and the next query tells the truth', async (fault) => {
    const { order } = await paidOrder();
    emulator.faults.inject(fault);
    expect(await channel.query(order)).toMatchObject({ status: 'processing', reference: order.reference });
    expect(await channel.query(order)).toMatchObject({ status: 'succeeded', reference: order.reference });
  });

  it.each([
    ['http_500', 0n],
    ['resp_code_03', 0n],
    ['hang', 700n],
    ['bad_signature', 700n],
    ['untrusted_cert', 700n],
  ] as const)('%s on a refund is processing; the refund query finds what really happened', async (fault, refunded) => {
    const { request, order } = await paidOrder();
    emulator.faults.inject(fault);
    const refund: RefundRequest = { ...order, refundNo: randomToken(24), refundAmount: 700n };
    expect((await channel.refund(refund)).status).toBe('processing');
    expect(refundedAtEmulator(request.orderNo)).toBe(refunded);
    expect((await channel.queryRefund!(refund)).status).toBe(refunded === 0n ? 'processing' : 'succeeded');
  });

  it.each(['hang', 'resp_code_03', 'untrusted_cert'] as const)('%s during a cancel is processing, and the retried cancel finishes it', async (fault) => {
    const { order } = await paidOrder();
    emulator.faults.inject(fault);
    expect((await channel.cancel(order)).status).toBe('processing');
    expect(emulator.faults.pending()).toEqual({});
    expect(await channel.cancel(order)).toMatchObject({ status: 'succeeded', reference: expect.stringMatching(/^\d{21}$/) });
  });

  it('duplicated notifications carry one notificationId', async () => {
    emulator.faults.inject('notify_duplicate');
    const { request } = await pay();
    await until(() => (notificationsFor(request.orderNo).length === 2 ? true : undefined), 'two copies');
    const [a, b] = notificationsFor(request.orderNo);
    expect(a?.notificationId).toBe(b?.notificationId);
  });

  it('an out-of-order notification arrives after the one that followed it', async () => {
    emulator.faults.inject('notify_out_of_order');
    const first = await pay();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(notificationsFor(first.request.orderNo)).toEqual([]);
    const second = await pay();
    await until(() => (notificationsFor(first.request.orderNo).length === 1 ? true : undefined), 'the held notification');
    const order = received.filter((r) => r.verified.ok).map((r) => (r.verified.ok ? r.verified.notification.orderNo : ''));
    expect(order.indexOf(second.request.orderNo)).toBeLessThan(order.indexOf(first.request.orderNo));
  });

  it('a dropped notification leaves the query to find the payment', async () => {
    emulator.faults.inject('notify_drop');
    const { request, outcome } = await pay();
    await emulator.notifications.idle();
    expect(notificationsFor(request.orderNo)).toEqual([]);
    expect((await channel.query(refOf(request, outcome))).status).toBe('succeeded');
  });

  it('the control API arms and clears faults over HTTP', async () => {
    const { order } = await paidOrder();
    const armed = await fetch(`${emulatorUrl}/sandbox/unionpay/_control/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fault: 'http_500', count: 2 }) });
    expect(await armed.json()).toEqual({ http_500: 2 });
    expect((await channel.query(order)).status).toBe('processing');
    expect(await (await fetch(`${emulatorUrl}/sandbox/unionpay/_control/faults`)).json()).toEqual({ http_500: 1 });
    await fetch(`${emulatorUrl}/sandbox/unionpay/_control/faults`, { method: 'DELETE' });
    expect((await channel.query(order)).status).toBe('succeeded');
    const bad = await fetch(`${emulatorUrl}/sandbox/unionpay/_control/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fault: 'meteor' }) });
    expect(bad.status).toBe(400);
  });
});

describe('a merchant with the wrong key', () => {
  it('is refused with respCode 11, which is final for a refund and unknown for a query', async () => {
    const { order } = await paidOrder();
    const other = await createUnionPayEmulator({ publicUrl: emulatorUrl, now });
    const wrong = createUnionPayChannel({ test: { ...emulator.credentials(), signCertPrivateKey: other.credentials().signCertPrivateKey }, notifyUrl: `${merchantUrl}/hooks/unionpay`, timeoutMs: 1_000, now });
    expect(await wrong.refund({ ...order, refundNo: randomToken(24), refundAmount: 1n })).toMatchObject({ status: 'failed', message: expect.stringMatching(/^UnionPay 11/) });
    expect(await wrong.query(order)).toMatchObject({ status: 'processing', reason: 'unionpay_query_resp_code_11' });
    other.stop();
  });
});
