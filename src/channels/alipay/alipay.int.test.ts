/**
 * The Alipay adapter against the Alipay emulator over real HTTP: every flow, the buyer's three
 * endings, queries in every state, close, refunds, notifications (verified, tampered, retried,
 * duplicated, out of order, lost), each fault switch turning into processing, and the bill file.
 */
import { createVerify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomToken } from '../../kernel/index.ts';
import { createAlipayEmulator, decodeGbk, readZip, type AlipayEmulator, type GatewayFaultKind } from '../../sandbox/alipay/index.ts';
import type { AuthorizeRequest, ChannelOutcome, InboundHttp, VerifiedNotification } from '../channel.ts';
import { createAlipayChannel, type AlipayChannel } from './index.ts';

interface Received {
  readonly request: InboundHttp;
  readonly verified: VerifiedNotification;
  readonly answered: string;
}

let app: FastifyInstance;
let emulator: AlipayEmulator;
let channel: AlipayChannel;
let receiver: Server;
let port = 0;
let notifyUrl = '';
let clockOffsetMs = 0;
const received: Received[] = [];
/** How many of the next verified notifications the merchant answers with something other than `success`. */
let refuseNext = 0;
const clockScale = 24_000; // 4 minutes → 10 ms, 15 hours → 2.25 s

const now = () => new Date(Date.now() + clockOffsetMs);

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    void (async () => {
      const rawBody = await readBody(request);
      const inbound: InboundHttp = {
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v])),
        rawBody,
      };
      const verified = await channel.parseNotification!(inbound);
      let reply = verified.ok ? verified.ack : verified.reply;
      if (verified.ok && refuseNext > 0) {
        refuseNext -= 1;
        reply = { status: 500, contentType: 'text/plain', body: 'busy' };
      }
      received.push({ request: inbound, verified, answered: reply.body });
      response.writeHead(reply.status, { 'content-type': reply.contentType }).end(reply.body);
    })();
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/alipay`;

  emulator = createAlipayEmulator({ publicUrl: () => `http://127.0.0.1:${port}`, now, clockScale, sweepIntervalMs: 0, hangMs: 5_000 });
  app = Fastify();
  await app.register(emulator.plugin);
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
  channel = createAlipayChannel({ credentials: { ...emulator.credentials(), notifyUrl }, timeoutMs: 1_000 });
});

afterAll(async () => {
  emulator?.stop();
  await app?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

beforeEach(() => {
  emulator.faults.clear();
  refuseNext = 0;
});

function request(fields: Partial<AuthorizeRequest> = {}): AuthorizeRequest {
  return {
    orderNo: `ord_${randomToken(16)}`,
    amount: 1_234n,
    currency: 'cny',
    capture: 'automatic',
    paymentMethod: { type: 'alipay' },
    description: undefined,
    returnUrl: undefined,
    livemode: false,
    subject: '测试商品 Test item',
    ...fields,
  };
}

function orderRef(req: AuthorizeRequest) {
  return { orderNo: req.orderNo, reference: undefined, amount: req.amount, currency: req.currency };
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function notificationsFor(orderNo: string): Received[] {
  return received.filter((r) => r.verified.ok && r.verified.notification.orderNo === orderNo);
}

/** Follows the emulator's redirects to the cashier page, as a browser would; returns the cashier path. */
async function openInBrowser(url: string): Promise<string> {
  const response = await fetch(url, { redirect: 'manual' });
  expect(response.status).toBe(303);
  const location = response.headers.get('location');
  expect(location).toMatch(/^\/sandbox\/alipay\/cashier\/[\w-]+$/);
  return location!;
}

async function cashier(path: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  expect(response.status).toBe(200);
  return await response.text();
}

async function press(path: string, action: 'approve' | 'decline' | 'walk_away'): Promise<Response> {
  return await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `action=${action}`,
    redirect: 'manual',
  });
}

async function qrTrade(fields: Partial<AuthorizeRequest> = {}): Promise<{ req: AuthorizeRequest; qr: string }> {
  const req = request(fields);
  const outcome = await channel.authorize(req);
  expect(outcome.status).toBe('requires_action');
  if (outcome.status !== 'requires_action' || outcome.action.type !== 'display_qr_code') throw new Error('expected a QR code');
  return { req, qr: outcome.action.data };
}

async function paidTrade(amount = 10_000n): Promise<AuthorizeRequest> {
  const { req, qr } = await qrTrade({ amount });
  const path = await openInBrowser(qr);
  expect((await press(path, 'approve')).status).toBe(200);
  expect(await channel.query(orderRef(req))).toMatchObject({ status: 'succeeded', amount });
  return req;
}

describe('QR flow (alipay.trade.precreate)', () => {
  it('is the default flow, shows a QR that opens the cashier, and is waiting until scanned', async () => {
    const { req, qr } = await qrTrade();
    expect(qr).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/sandbox/alipay/qr/[\\w-]+$`));
    const outcome = await channel.authorize(req);
    // Same order again: Alipay hands back the same QR, not a second trade.
    expect(outcome).toMatchObject({ status: 'requires_action', action: { type: 'display_qr_code', data: qr, imageUrl: expect.stringMatching(/^data:image\/png;base64,/) } });

    // Not scanned: Alipay says the trade does not exist, which means waiting, not failed.
    expect(await channel.query(orderRef(req))).toMatchObject({ status: 'processing', reason: expect.stringContaining('not scanned') });

    const path = await openInBrowser(qr);
    const waiting = await channel.query(orderRef(req));
    expect(waiting).toMatchObject({ status: 'requires_action', action: { type: 'redirect_to_url' } });
    expect(waiting.status === 'requires_action' && waiting.reference).toMatch(/^\d{28}$/);

    const html = await cashier(path);
    expect(html).toContain('¥12.34');
    expect(html).toContain('测试商品 Test item');
    expect(html).toContain('确认付款');
    expect(html).toContain('Pay now');

    const paid = await press(path, 'approve');
    expect(paid.status).toBe(200);
    expect(await paid.text()).toContain('付款成功');
    const outcome2 = await channel.query(orderRef(req));
    expect(outcome2).toEqual({ status: 'succeeded', reference: emulator.trade(req.orderNo)!.tradeNo, amount: 1_234n, currency: 'cny' });

    const [note] = await waitFor(() => (notificationsFor(req.orderNo).length > 0 ? notificationsFor(req.orderNo) : undefined));
    expect(note!.answered).toBe('success');
    expect(note!.verified).toMatchObject({
      ok: true,
      notification: { kind: 'payment', orderNo: req.orderNo, outcome: { status: 'succeeded', amount: 1_234n, currency: 'cny', reference: emulator.trade(req.orderNo)!.tradeNo } },
      ack: { status: 200, contentType: expect.stringContaining('text/plain'), body: 'success' },
    });
  });

  it('refuses an order number reused with another amount, and says which rule', async () => {
    const { req } = await qrTrade();
    const outcome = await channel.authorize({ ...req, amount: 999n });
    expect(outcome).toMatchObject({ status: 'failed', failure: { code: 'processing_error', declineCode: 'alipay_order_inconsistent' } });
  });

  it('closes an unscanned QR (ACQ.TRADE_NOT_EXIST counts as closed) and the QR then no longer pays', async () => {
    const { req, qr } = await qrTrade();
    expect(await channel.cancel(orderRef(req))).toEqual({ status: 'succeeded', reference: req.orderNo });
    const path = await openInBrowser(qr);
    expect(await cashier(path)).toContain('交易已关闭');
    expect((await press(path, 'approve')).status).toBe(200);
    expect(emulator.trade(req.orderNo)?.status).toBe('TRADE_CLOSED');
  });
});

describe('page and WAP flows', () => {
  it('page: redirects to a signed gateway URL; approving pays and returns to the merchant with signed parameters', async () => {
    const req = request({ flow: 'page', returnUrl: 'https://shop.example/return?cart=7' });
    const outcome = await channel.authorize(req);
    if (outcome.status !== 'requires_action' || outcome.action.type !== 'redirect_to_url') throw new Error(`expected a redirect, got ${outcome.status}`);
    const url = new URL(outcome.action.url);
    expect(url.pathname).toBe('/sandbox/alipay/gateway.do');
    expect(url.searchParams.get('method')).toBe('alipay.trade.page.pay');
    expect(JSON.parse(url.searchParams.get('biz_content')!)).toMatchObject({ out_trade_no: req.orderNo, total_amount: '12.34', product_code: 'FAST_INSTANT_TRADE_PAY' });

    // Opening the cashier makes the trade exist.
    expect(await channel.query(orderRef(req))).toMatchObject({ status: 'processing' });
    const path = await openInBrowser(outcome.action.url);
    expect(await channel.query(orderRef(req))).toMatchObject({ status: 'requires_action' });

    const back = await press(path, 'approve');
    expect(back.status).toBe(303);
    const returned = new URL(back.headers.get('location')!);
    expect(returned.origin + returned.pathname).toBe('https://shop.example/return');
    expect(returned.searchParams.get('cart')).toBe('7');
    expect(returned.searchParams.get('method')).toBe('alipay.trade.page.pay.return');
    expect(returned.searchParams.get('out_trade_no')).toBe(req.orderNo);
    expect(returned.searchParams.get('total_amount')).toBe('12.34');
    // The return parameters are signed with Alipay's key (rsaCheckV1: without sign and sign_type).
    const params = Object.fromEntries([...returned.searchParams].filter(([k]) => k !== 'cart' && k !== 'sign' && k !== 'sign_type'));
    const content = Object.keys(params).sort().map((k) => `${k}=${params[k]}`).join('&');
    expect(createVerify('RSA-SHA256').update(content).verify(emulator.credentials().alipayPublicKey, returned.searchParams.get('sign')!, 'base64')).toBe(true);

    expect(await channel.query(orderRef(req))).toMatchObject({ status: 'succeeded', amount: 1_234n });
  });

  it('page: a URL tampered with by the payer is refused by the gateway', async () => {
    const outcome = await channel.authorize(request({ flow: 'page' }));
    if (outcome.status !== 'requires_action' || outcome.action.type !== 'redirect_to_url') throw new Error('expected a redirect');
    const tampered = outcome.action.url.replace(encodeURIComponent('"total_amount":"12.34"'), encodeURIComponent('"total_amount":"0.01"'));
    expect(tampered).not.toBe(outcome.action.url);
    const response = await fetch(tampered, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('isv.invalid-signature');
  });

  it('wap: the buyer declines; the order is closed, query says canceled, and Alipay notifies TRADE_CLOSED', async () => {
    const req = request({ flow: 'wap', returnUrl: 'https://shop.example/m/return' });
    const outcome = await channel.authorize(req);
    if (outcome.status !== 'requires_action' || outcome.action.type !== 'redirect_to_url') throw new Error('expected a redirect');
    expect(new URL(outcome.action.url).searchParams.get('method')).toBe('alipay.trade.wap.pay');
    const path = await openInBrowser(outcome.action.url);
    const declined = await press(path, 'decline');
    expect(declined.status).toBe(200);
    expect(await declined.text()).toContain('https://shop.example/m/return');
    const closed = await channel.query(orderRef(req));
    expect(closed).toEqual({ status: 'canceled', reference: emulator.trade(req.orderNo)!.tradeNo });
    const [note] = await waitFor(() => (notificationsFor(req.orderNo).length > 0 ? notificationsFor(req.orderNo) : undefined));
    expect(note!.verified).toMatchObject({ ok: true, notification: { kind: 'payment', outcome: { status: 'canceled' } } });
  });
});

describe('app flow (alipay.trade.app.pay)', () => {
  it('gives the app SDK a signed order string; a payer who walks away leaves the order waiting until closed', async () => {
    const req = request({ flow: 'app' });
    const outcome = await channel.authorize(req);
    if (outcome.status !== 'requires_action' || outcome.action.type !== 'sdk_params') throw new Error('expected sdk params');
    const orderString = outcome.action.params.orderString!;
    const params = new URLSearchParams(orderString);
    expect(params.get('method')).toBe('alipay.trade.app.pay');
    expect(params.get('sign')).toBeTruthy();
    expect(JSON.parse(params.get('biz_content')!)).toMatchObject({ out_trade_no: req.orderNo, product_code: 'QUICK_MSECURITY_PAY' });

    // The "Alipay app" hands the order string to Alipay.
    const path = await openInBrowser(`${emulator.credentials().gateway}?${orderString}`);
    const left = await press(path, 'walk_away');
    expect(left.status).toBe(200);
    expect(await left.text()).toContain('You left the checkout');
    expect(await channel.query(orderRef(req))).toMatchObject({ status: 'requires_action' });

    expect(await channel.cancel(orderRef(req))).toEqual({ status: 'succeeded', reference: emulator.trade(req.orderNo)!.tradeNo });
    expect(await channel.query(orderRef(req))).toMatchObject({ status: 'canceled' });
    // Closing twice is harmless.
    expect(await channel.cancel(orderRef(req))).toMatchObject({ status: 'succeeded' });
  });

  it('does not close a paid order', async () => {
    const req = await paidTrade(500n);
    expect(await channel.cancel(orderRef(req))).toMatchObject({ status: 'failed', message: expect.stringContaining('paid') });
  });
});

describe('what the adapter refuses by itself', () => {
  it('refuses other currencies, manual capture, the JSAPI flow, and capture()', async () => {
    expect(await channel.authorize(request({ currency: 'usd' }))).toMatchObject({ status: 'failed', failure: { declineCode: 'alipay_currency_not_supported' } });
    expect(await channel.authorize(request({ capture: 'manual' }))).toMatchObject({ status: 'failed', failure: { declineCode: 'alipay_manual_capture_not_supported' } });
    expect(await channel.authorize(request({ flow: 'jsapi' }))).toMatchObject({ status: 'failed', failure: { declineCode: 'alipay_flow_not_supported' } });
    const req = request();
    expect(await channel.capture({ ...orderRef(req), amountToCapture: 1n })).toMatchObject({ status: 'failed', message: expect.stringContaining('at once') });
  });
});

describe('refunds', () => {
  it('refunds partially, idempotently on out_request_no, never above what was paid, and the refund query agrees', async () => {
    const req = await paidTrade(10_000n);
    const ref = orderRef(req);
    const tradeNo = emulator.trade(req.orderNo)!.tradeNo;
    expect(await channel.refund({ ...ref, refundNo: 'rf_1', refundAmount: 3_000n })).toEqual({ status: 'succeeded', reference: tradeNo });
    // The same refund again moves no money (fund_change N) and is confirmed by the refund query.
    expect(await channel.refund({ ...ref, refundNo: 'rf_1', refundAmount: 3_000n })).toEqual({ status: 'succeeded', reference: tradeNo });
    expect(emulator.trade(req.orderNo)!.amountRefunded).toBe('30.00');

    const over = await channel.refund({ ...ref, refundNo: 'rf_2', refundAmount: 7_001n });
    expect(over).toMatchObject({ status: 'failed', message: expect.stringContaining('larger than') });
    expect(emulator.trade(req.orderNo)!.amountRefunded).toBe('30.00');

    expect(await channel.queryRefund!({ ...ref, refundNo: 'rf_1', refundAmount: 3_000n })).toEqual({ status: 'succeeded', reference: tradeNo });
    // Alipay answers 10000 with no data for a refund it does not know: that is not a success.
    expect(await channel.queryRefund!({ ...ref, refundNo: 'rf_2', refundAmount: 7_001n })).toMatchObject({ status: 'processing' });

    expect(await channel.refund({ ...ref, refundNo: 'rf_3', refundAmount: 7_000n })).toEqual({ status: 'succeeded', reference: tradeNo });
    expect(emulator.trade(req.orderNo)!.status).toBe('TRADE_CLOSED');
    // Fully refunded is TRADE_CLOSED with send_pay_date: the payment still succeeded.
    expect(await channel.query(ref)).toEqual({ status: 'succeeded', reference: tradeNo, amount: 10_000n, currency: 'cny' });
    expect(await channel.refund({ ...ref, refundNo: 'rf_4', refundAmount: 1n })).toMatchObject({ status: 'failed' });

    const refunds = await waitFor(() => {
      const notes = notificationsFor(req.orderNo).filter((r) => r.verified.ok && r.verified.notification.kind === 'refund');
      return notes.length >= 2 ? notes : undefined;
    });
    expect(refunds.map((r) => r.verified.ok && r.verified.notification.kind === 'refund' && r.verified.notification.refundNo).sort()).toEqual(['rf_1', 'rf_3']);
  });

  it('refuses to refund an unpaid order', async () => {
    const { req, qr } = await qrTrade();
    await openInBrowser(qr);
    expect(await channel.refund({ ...orderRef(req), refundNo: 'rf_x', refundAmount: 1n })).toMatchObject({ status: 'failed' });
  });
});

describe('notifications', () => {
  it('rejects a tampered notification with a non-success answer, so Alipay would retry', async () => {
    const req = await paidTrade(2_000n);
    const note = await waitFor(() => notificationsFor(req.orderNo)[0]);
    const tampered = Buffer.from(note.request.rawBody.toString().replace('total_amount=20.00', 'total_amount=0.01'));
    expect(tampered.toString()).not.toBe(note.request.rawBody.toString());
    const verdict = await channel.parseNotification!({ ...note.request, rawBody: tampered });
    expect(verdict).toMatchObject({ ok: false, reason: 'signature does not verify' });
    expect(!verdict.ok && verdict.reply.status).toBeGreaterThanOrEqual(400);
    expect(!verdict.ok && verdict.reply.body).not.toBe('success');
    // The original still verifies.
    expect(await channel.parseNotification!(note.request)).toMatchObject({ ok: true });
  });

  it('is retried on Alipay’s schedule until answered success, with the same notify_id', async () => {
    refuseNext = 2;
    const req = await paidTrade(300n);
    const notes = await waitFor(() => (notificationsFor(req.orderNo).length >= 3 ? notificationsFor(req.orderNo) : undefined));
    expect(notes.map((n) => n.answered)).toEqual(['busy', 'busy', 'success']);
    const ids = new Set(notes.map((n) => n.verified.ok && n.verified.notification.notificationId));
    expect(ids.size).toBe(1);
    // The merchant has the third copy before the emulator records its answer: wait for that record.
    const record = await waitFor(() => emulator.notifications().find((r) => r.fields.out_trade_no === req.orderNo && r.acknowledged));
    expect(record.acknowledged).toBe(true);
    expect(record.attempts.map((a) => a.result)).toEqual(['rejected', 'rejected', 'acknowledged']);
    // 4 minutes then 10 minutes, compressed by clockScale: the second retry waits longer than the first.
    const [a, b, c] = record.attempts.map((x) => x.at.getTime());
    expect(c! - b!).toBeGreaterThanOrEqual(((10 * 60_000) / clockScale) * 0.9);
    expect(b! - a!).toBeGreaterThanOrEqual(((4 * 60_000) / clockScale) * 0.9);
  });

  it('duplicate fault: the same notification arrives twice with the same notify_id', async () => {
    emulator.faults.notifications('duplicate');
    const req = await paidTrade(301n);
    const notes = await waitFor(() => (notificationsFor(req.orderNo).length >= 2 ? notificationsFor(req.orderNo) : undefined));
    const [first, second] = notes;
    expect(first!.request.rawBody.equals(second!.request.rawBody)).toBe(true);
  });

  it('out_of_order fault: the held notification arrives after the next one', async () => {
    const req = await paidTrade(400n);
    await waitFor(() => notificationsFor(req.orderNo)[0]);
    emulator.faults.notifications('out_of_order');
    const ref = orderRef(req);
    expect(await channel.refund({ ...ref, refundNo: 'ooo_1', refundAmount: 100n })).toMatchObject({ status: 'succeeded' });
    expect(await channel.refund({ ...ref, refundNo: 'ooo_2', refundAmount: 100n })).toMatchObject({ status: 'succeeded' });
    const refunds = await waitFor(() => {
      const notes = notificationsFor(req.orderNo).filter((r) => r.verified.ok && r.verified.notification.kind === 'refund');
      return notes.length >= 2 ? notes : undefined;
    });
    expect(refunds.map((r) => r.verified.ok && r.verified.notification.kind === 'refund' && r.verified.notification.refundNo)).toEqual(['ooo_2', 'ooo_1']);
  });

  it('unreachable fault: the attempt never arrives and the retry does', async () => {
    emulator.faults.notifications('unreachable', { count: 1 });
    const req = await paidTrade(402n);
    const [note] = await waitFor(() => (notificationsFor(req.orderNo).length >= 1 ? notificationsFor(req.orderNo) : undefined));
    expect(note!.answered).toBe('success');
    // The receiver answers before the emulator records the answer: wait for the record.
    const record = await waitFor(() => emulator.notifications().find((r) => r.fields.out_trade_no === req.orderNo && r.acknowledged));
    expect(record.attempts.map((a) => a.result)).toEqual(['unreachable', 'acknowledged']);
  });
});

describe('faults never turn into a wrong final answer', () => {
  const kinds: readonly GatewayFaultKind[] = ['http_5xx', 'timeout', 'bad_signature', 'system_error'];

  it.each(kinds)('%s on query of a paid order is processing, then the truth once it clears', async (kind) => {
    const req = await paidTrade(777n);
    emulator.faults.gateway(kind, { method: 'alipay.trade.query' });
    const outcome: ChannelOutcome = await channel.query(orderRef(req));
    expect(outcome.status).toBe('processing');
    expect(await channel.query(orderRef(req))).toMatchObject({ status: 'succeeded', amount: 777n });
  });

  it.each(kinds)('%s on precreate is processing, never failed', async (kind) => {
    emulator.faults.gateway(kind, { method: 'alipay.trade.precreate' });
    const outcome = await channel.authorize(request());
    expect(outcome.status).toBe('processing');
  });

  it.each(kinds)('%s on a refund is processing; the refund query then says what happened', async (kind) => {
    const req = await paidTrade(1_000n);
    const refund = { ...orderRef(req), refundNo: `rf_${kind}`, refundAmount: 100n };
    emulator.faults.gateway(kind, { method: 'alipay.trade.refund' });
    expect(await channel.refund(refund)).toMatchObject({ status: 'processing' });
    const applied = kind === 'timeout' || kind === 'bad_signature';
    expect(await channel.queryRefund!(refund)).toMatchObject({ status: applied ? 'succeeded' : 'processing' });
    expect(emulator.trade(req.orderNo)!.amountRefunded).toBe(applied ? '1.00' : '0.00');
  });

  it.each(kinds)('%s on close is processing', async (kind) => {
    const { req } = await qrTrade();
    emulator.faults.gateway(kind, { method: 'alipay.trade.close' });
    expect(await channel.cancel(orderRef(req))).toMatchObject({ status: 'processing' });
  });

  it('an outage makes calls processing and the health endpoint say so', async () => {
    emulator.faults.outage(true);
    const health = await fetch(`http://127.0.0.1:${port}/sandbox/alipay/health`);
    expect(health.status).toBe(503);
    expect(await channel.authorize(request())).toMatchObject({ status: 'processing' });
    emulator.faults.outage(false);
    expect((await fetch(`http://127.0.0.1:${port}/sandbox/alipay/health`)).status).toBe(200);
  });

  it('an answer signed by another key is processing (the adapter verifies every response)', async () => {
    const other = createAlipayChannel({ credentials: { ...emulator.credentials(), alipayPublicKey: createAlipayEmulator({ publicUrl: 'http://x' }).credentials().alipayPublicKey }, timeoutMs: 1_000 });
    const req = await paidTrade(123n);
    expect(await other.query(orderRef(req))).toMatchObject({ status: 'processing', reason: expect.stringContaining('signature') });
  });
});

describe('trade bill', () => {
  it('downloads yesterday’s bill: GBK CSVs in a zip, payments and refunds by out_request_no, URL valid 30 s', async () => {
    const req = await paidTrade(8_800n);
    expect(await channel.refund({ ...orderRef(req), refundNo: 'bill_rf_1', refundAmount: 800n })).toMatchObject({ status: 'succeeded' });
    const day = new Date(Date.now() + clockOffsetMs + 8 * 3_600_000).toISOString().slice(0, 10);
    expect(await channel.billDownloadUrl(day)).toMatchObject({ status: 'unavailable', code: 'isp.bill_not_exist' });

    clockOffsetMs += 24 * 3_600_000;
    try {
      const bill = await channel.billDownloadUrl(day);
      if (bill.status !== 'ready') throw new Error(`bill ${bill.status}`);
      const response = await fetch(bill.url);
      expect(response.status).toBe(200);
      const entries = readZip(Buffer.from(await response.arrayBuffer()));
      const names = entries.map((e) => decodeGbk(e.name));
      const compact = day.replaceAll('-', '');
      expect(names).toEqual([`20880000000000010156_${compact}_业务明细.csv`, `20880000000000010156_${compact}_业务明细(汇总).csv`]);
      const detail = decodeGbk(entries[0]!.data);
      const lines = detail.split('\r\n');
      expect(lines[0]).toBe('#支付宝业务明细查询');
      const tradeNo = emulator.trade(req.orderNo)!.tradeNo;
      const rows = lines.filter((l) => l.startsWith(tradeNo)).map((l) => l.split(',').map((f) => f.replace(/\t$/, '')));
      expect(rows).toHaveLength(2);
      const [payment, refund] = rows;
      expect(payment!.slice(0, 3)).toEqual([tradeNo, req.orderNo, '交易']);
      expect(payment![11]).toBe('88.00');
      expect(payment![12]).toBe('88.00');
      expect(payment![22]).toBe('-0.53'); // 0.6% of 88.00 = 0.528, rounded half up
      expect(refund!.slice(0, 3)).toEqual([tradeNo, req.orderNo, '退款']);
      expect(refund![12]).toBe('-8.00');
      expect(refund![21]).toBe('bill_rf_1');
      expect(detail).toMatch(/#交易合计：\d+笔，商家实收共[\d.]+元/);

      clockOffsetMs += 31_000;
      expect((await fetch(bill.url)).status).toBe(403);
    } finally {
      clockOffsetMs = 0;
    }
  });
});
