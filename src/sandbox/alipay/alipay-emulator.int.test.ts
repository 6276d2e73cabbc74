/**
 * The emulator as an external system, driven with the official alipay-sdk and raw HTTP: what it
 * refuses at the gateway, its control API, expiry, the health probe and the bill URL's token.
 */
import type { AddressInfo } from 'node:net';
import { AlipaySdk } from 'alipay-sdk';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlipayEmulator, type AlipayEmulator } from './index.ts';
import { generateRsaKeyPair } from './signing.ts';

let app: FastifyInstance;
let emulator: AlipayEmulator;
let port = 0;
let clockOffsetMs = 0;
let sdk: AlipaySdk;
let base = '';

beforeAll(async () => {
  emulator = createAlipayEmulator({ publicUrl: () => `http://127.0.0.1:${port}`, now: () => new Date(Date.now() + clockOffsetMs), clockScale: 1_000_000, sweepIntervalMs: 0 });
  app = Fastify();
  // The host app's own form parser must not get in the way of the emulator's raw one.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, { parsed: body }));
  await app.register(emulator.plugin);
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}/sandbox/alipay`;
  const credentials = emulator.credentials();
  sdk = new AlipaySdk({ appId: credentials.appId, privateKey: credentials.privateKey.reveal(), keyType: 'PKCS8', alipayPublicKey: credentials.alipayPublicKey, gateway: credentials.gateway, camelcase: false });
});

afterAll(async () => {
  emulator?.stop();
  await app?.close();
});

function otherSdk(fields: { appId?: string; privateKey?: string } = {}): AlipaySdk {
  const credentials = emulator.credentials();
  return new AlipaySdk({
    appId: fields.appId ?? credentials.appId,
    privateKey: fields.privateKey ?? credentials.privateKey.reveal(),
    keyType: 'PKCS8',
    alipayPublicKey: credentials.alipayPublicKey,
    gateway: credentials.gateway,
    camelcase: false,
  });
}

async function precreate(outTradeNo: string, extra: Record<string, unknown> = {}) {
  return await sdk.exec('alipay.trade.precreate', { bizContent: { out_trade_no: outTradeNo, total_amount: '1.00', subject: 'tea', ...extra }, notifyUrl: 'http://127.0.0.1:9/unreachable' }, { validateSign: true });
}

describe('gateway', () => {
  it('answers a request signed with another key with a signed isv.invalid-signature', async () => {
    const stranger = otherSdk({ privateKey: generateRsaKeyPair().privateKey });
    const answer = await stranger.exec('alipay.trade.query', { bizContent: { out_trade_no: 'x' } }, { validateSign: true });
    expect(answer).toMatchObject({ code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature' });
    expect(String(answer.sub_msg)).toContain('method=alipay.trade.query');
  });

  it('refuses an unknown app id and an unknown method', async () => {
    expect(await otherSdk({ appId: '2021999999999999' }).exec('alipay.trade.query', { bizContent: { out_trade_no: 'x' } })).toMatchObject({ code: '40002', sub_code: 'isv.invalid-app-id' });
    const response = await fetch(`${base}/gateway.do?${sdk.sdkExecute('alipay.trade.nonsense', { bizContent: {} })}`, { method: 'POST' });
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ error_response: { code: '40002', sub_code: 'isv.invalid-method' } });
  });

  it('reads common parameters from the body as well as the query string', async () => {
    const body = sdk.sdkExecute('alipay.trade.query', { bizContent: { out_trade_no: 'never_seen' } });
    const response = await fetch(`${base}/gateway.do`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' }, body });
    expect(JSON.parse(await response.text())).toMatchObject({ alipay_trade_query_response: { code: '40004', sub_code: 'ACQ.TRADE_NOT_EXIST' } });
  });

  it('says which common parameter is missing', async () => {
    const response = await fetch(`${base}/gateway.do?app_id=${emulator.credentials().appId}&method=alipay.trade.query`, { method: 'POST' });
    expect(JSON.parse(await response.text())).toMatchObject({ alipay_trade_query_response: { code: '40001', sub_code: 'isv.missing-signature' } });
  });

  it('refuses amounts Alipay refuses', async () => {
    expect(await precreate('amt_1', { total_amount: '1.001' })).toMatchObject({ code: '40004', sub_code: 'ACQ.INVALID_PARAMETER' });
    expect(await precreate('amt_2', { total_amount: '0' })).toMatchObject({ code: '40004', sub_code: 'ACQ.INVALID_PARAMETER' });
    expect(await precreate('amt_3', { total_amount: '100000000.01' })).toMatchObject({ code: '40004', sub_code: 'ACQ.TOTAL_FEE_EXCEED' });
  });
});

describe('expiry', () => {
  it('closes an unpaid trade past time_expire and notifies TRADE_CLOSED', async () => {
    expect(await precreate('exp_1', { timeout_express: '1m' })).toMatchObject({ code: '10000' });
    emulator.buyer.scan('exp_1');
    expect(await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: 'exp_1' } }, { validateSign: true })).toMatchObject({ trade_status: 'WAIT_BUYER_PAY' });
    clockOffsetMs += 61_000;
    try {
      expect(await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: 'exp_1' } }, { validateSign: true })).toMatchObject({ trade_status: 'TRADE_CLOSED' });
      expect(emulator.buyer.act('exp_1', 'approve')?.status).toBe('TRADE_CLOSED');
      const note = emulator.notifications().find((r) => r.fields.out_trade_no === 'exp_1');
      expect(note?.fields.trade_status).toBe('TRADE_CLOSED');
    } finally {
      clockOffsetMs = 0;
    }
  });
});

describe('control API and health', () => {
  it('sets, lists and clears fault switches over HTTP', async () => {
    const post = (body: unknown) => fetch(`${base}/_control/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ kind: 'system_error', count: 2, method: 'alipay.trade.query' })).status).toBe(201);
    expect((await post({ kind: 'duplicate' })).status).toBe(201);
    expect((await post({ kind: 'meteor' })).status).toBe(400);
    expect((await post({ kind: 'timeout', count: 0 })).status).toBe(400);
    const listed = (await (await fetch(`${base}/_control/faults`)).json()) as { gateway: unknown[]; notifications: unknown[] };
    expect(listed.gateway).toEqual([{ kind: 'system_error', remaining: 2, method: 'alipay.trade.query', applied: false }]);
    expect(listed.notifications).toEqual([{ kind: 'duplicate', remaining: 1 }]);

    expect(await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: 'x' } }, { validateSign: true })).toMatchObject({ code: '20000' });
    expect(((await (await fetch(`${base}/_control/faults`)).json()) as { gateway: { remaining: number }[] }).gateway[0]?.remaining).toBe(1);

    expect((await fetch(`${base}/_control/faults`, { method: 'DELETE' })).status).toBe(200);
    expect(await (await fetch(`${base}/_control/faults`)).json()).toEqual({ gateway: [], notifications: [], outage: false });
  });

  it('plays the buyer by order number and shows the trade', async () => {
    await precreate('ctl_1');
    expect((await fetch(`${base}/_control/trades/ctl_1`).then((r) => r.json())) as object).toMatchObject({ status: 'WAIT_BUYER_PAY', visible: false, totalAmount: '1.00' });
    expect(await fetch(`${base}/_control/trades/ctl_1/approve`, { method: 'POST' }).then((r) => r.json())).toMatchObject({ status: 'TRADE_SUCCESS', visible: true });
    expect((await fetch(`${base}/_control/trades/nope`)).status).toBe(404);
    const notifications = (await fetch(`${base}/_control/notifications`).then((r) => r.json())) as { fields: Record<string, string> }[];
    expect(notifications.some((n) => n.fields.out_trade_no === 'ctl_1' && n.fields.trade_status === 'TRADE_SUCCESS')).toBe(true);
  });

  it('answers the health probe', async () => {
    const response = await fetch(`${base}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', channel: 'alipay' });
  });

  it('refuses a bill URL whose token was changed', async () => {
    clockOffsetMs += 2 * 24 * 3_600_000;
    try {
      const yesterday = new Date(Date.now() + clockOffsetMs + 8 * 3_600_000 - 24 * 3_600_000).toISOString().slice(0, 10);
      const answer = await sdk.exec('alipay.data.dataservice.bill.downloadurl.query', { bizContent: { bill_type: 'trade', bill_date: yesterday } }, { validateSign: true });
      const url = new URL(String(answer.bill_download_url));
      expect((await fetch(url)).status).toBe(200);
      url.searchParams.set('bizDates', '20000101');
      expect((await fetch(url)).status).toBe(403);
    } finally {
      clockOffsetMs = 0;
    }
  });
});

describe('stop', () => {
  it('releases a call held by the timeout fault', async () => {
    const local = createAlipayEmulator({ publicUrl: () => `http://127.0.0.1:${localPort}`, hangMs: 60_000, sweepIntervalMs: 0 });
    const server = Fastify();
    await server.register(local.plugin);
    await server.listen({ host: '127.0.0.1', port: 0 });
    const localPort = (server.server.address() as AddressInfo).port;
    // Two: urllib (under alipay-sdk) re-sends once when a connection drops (socketErrorRetry).
    local.faults.gateway('timeout', { count: 2 });
    const credentials = local.credentials();
    const client = new AlipaySdk({ appId: credentials.appId, privateKey: credentials.privateKey.reveal(), keyType: 'PKCS8', alipayPublicKey: credentials.alipayPublicKey, gateway: credentials.gateway, timeout: 30_000 });
    const started = Date.now();
    const call = client.exec('alipay.trade.query', { bizContent: { out_trade_no: 'x' } }, { validateSign: true }).then(
      () => 'answered',
      () => 'dropped',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    local.stop();
    expect(await call).toBe('dropped');
    expect(Date.now() - started).toBeLessThan(5_000);
    await server.close();
  });
});
