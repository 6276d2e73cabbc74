/**
 * The emulator on its own, over real HTTP: what a client that is not our adapter would see.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import qs from 'qs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acpSign, acpVerify, parseFormBody } from './acp.ts';
import { createUnionPayEmulator, type UnionPayEmulator } from './index.ts';

const clockScale = 6_000; // one minute = 10 ms
const clockMs = Date.UTC(2031, 5, 15, 4, 0, 0);
let app: FastifyInstance;
let emulator: UnionPayEmulator;
let base: string;
let merchant: Server;
let merchantUrl: string;
const arrivals: { at: number; body: string }[] = [];

beforeAll(async () => {
  merchant = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      arrivals.push({ at: Date.now(), body });
      response.writeHead(503).end('busy');
    });
  });
  await new Promise<void>((resolve) => merchant.listen(0, '127.0.0.1', resolve));
  merchantUrl = `http://127.0.0.1:${(merchant.address() as AddressInfo).port}`;
  emulator = await createUnionPayEmulator({ publicUrl: () => base, now: () => new Date(clockMs), clockScale, prefix: '/up' });
  app = Fastify();
  // A host app that already parses forms its own way must not change what the emulator sees.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, qs.parse(body as string)));
  await app.register(emulator.plugin);
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  emulator?.stop();
  await app?.close();
  await new Promise((resolve) => merchant?.close(resolve));
});

function signed(fields: Record<string, string>): Record<string, string> {
  const credentials = emulator.credentials();
  const all = { version: '5.1.0', encoding: 'UTF-8', signMethod: '01', accessType: '0', bizType: '000201', merId: credentials.merId, certId: credentials.signCertId, ...fields };
  return { ...all, signature: acpSign(all, createPrivateKey(credentials.signCertPrivateKey.reveal())) };
}

function parseAnswer(text: string): Record<string, string> {
  return Object.fromEntries(text.split('&').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

async function post(path: string, fields: Record<string, string>) {
  const response = await fetch(`${base}/up/${path}`, { method: 'POST', body: new URLSearchParams(fields) });
  return { status: response.status, text: await response.text() };
}

describe('the UnionPay emulator', () => {
  it('reports health', async () => {
    const response = await fetch(`${base}/up/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', protocol: 'ACP 5.1.0', merId: '777290058110048' });
  });

  it('hands out credentials whose certificates chain root → middle → signing', () => {
    const credentials = emulator.credentials();
    const root = new X509Certificate(credentials.rootCertPem);
    const middle = new X509Certificate(credentials.middleCertPem);
    const signing = new X509Certificate(emulator.pki.signing.certPem);
    expect(middle.checkIssued(root) && middle.verify(root.publicKey)).toBe(true);
    expect(signing.checkIssued(middle) && signing.verify(middle.publicKey)).toBe(true);
    expect(/CN=([^\n]*)/.exec(signing.subject)?.[1]?.split('@')[2]).toBe('中国银联股份有限公司');
    expect(credentials.singleQueryUrl).toBe(`${base}/up/queryTrans.do`);
    expect(JSON.stringify(credentials)).not.toContain('PRIVATE KEY');
  });

  it('answers a query with raw signed text carrying signPubKeyCert, 34 for an unknown order', async () => {
    const { status, text } = await post('queryTrans.do', signed({ txnType: '00', txnSubType: '00', orderId: 'NoSuchOrder1', txnTime: '20310615120000' }));
    expect(status).toBe(200);
    const answer = parseAnswer(text);
    expect(answer).toMatchObject({ respCode: '34', orderId: 'NoSuchOrder1', txnTime: '20310615120000' });
    expect(answer['signPubKeyCert']).toContain('-----BEGIN CERTIFICATE-----');
    expect(acpVerify(answer, new X509Certificate(answer['signPubKeyCert']!).publicKey)).toBe(true);
  });

  it('refuses a request whose signature does not verify with respCode 11, and one missing fields with 13', async () => {
    const request = signed({ txnType: '00', txnSubType: '00', orderId: 'NoSuchOrder1', txnTime: '20310615120000' });
    expect(parseAnswer((await post('queryTrans.do', { ...request, orderId: 'NoSuchOrder2' })).text)['respCode']).toBe('11');
    expect(parseAnswer((await post('queryTrans.do', { ...request, certId: '1' })).text)['respCode']).toBe('11');
    const { txnTime: _omit, ...missing } = request;
    expect(parseAnswer((await post('queryTrans.do', missing)).text)['respCode']).toBe('13');
  });

  it('refuses a refund of an order it never saw with 35', async () => {
    const { text } = await post(
      'backTransReq.do',
      signed({ txnType: '04', txnSubType: '00', channelType: '07', orderId: 'Refund00001', txnTime: '20310615120000', txnAmt: '1', currencyCode: '156', origQryId: '999', backUrl: merchantUrl }),
    );
    expect(parseAnswer(text)).toMatchObject({ respCode: '35', txnType: '04' });
  });

  it('resends a notification at 1, 2, 4 and 5 minutes (compressed), five sends in all, then stops', async () => {
    const front = await post(
      'frontTransReq.do',
      signed({ txnType: '01', txnSubType: '01', channelType: '07', orderId: 'RetryOrder01', txnTime: '20310615120000', txnAmt: '1999', currencyCode: '156', backUrl: `${merchantUrl}/n` }),
    );
    expect(front.status).toBe(200);
    const action = /action="([^"]+)"/.exec(front.text)?.[1];
    const approved = await fetch(`${base}${action}`, { method: 'POST', body: new URLSearchParams({ action: 'approve' }) });
    expect(await approved.text()).toContain('Payment approved');
    await emulator.notifications.idle();
    expect(arrivals).toHaveLength(5);
    const gapsMs = arrivals.slice(1).map((a, i) => a.at - arrivals[i]!.at);
    // 1, 2, 4, 5 minutes at 1/6000 = 10, 20, 40, 50 ms; timers only ever fire late.
    [10, 20, 40, 50].forEach((minimum, i) => expect(gapsMs[i]).toBeGreaterThanOrEqual(minimum - 2));
    const fields = parseFormBody(arrivals[0]!.body)!;
    expect(fields).toMatchObject({ orderId: 'RetryOrder01', txnAmt: '1999', respCode: '00', txnType: '01' });
    expect(acpVerify(fields, new X509Certificate(fields['signPubKeyCert']!).publicKey)).toBe(true);
    expect(arrivals.every((a) => a.body === arrivals[0]!.body)).toBe(true);

    const log = (await (await fetch(`${base}/up/_control/notifications`)).json()) as { orderId: string; attempt: number; result: number }[];
    expect(log.filter((d) => d.orderId === 'RetryOrder01').map((d) => [d.attempt, d.result])).toEqual([
      [1, 503],
      [2, 503],
      [3, 503],
      [4, 503],
      [5, 503],
    ]);

    const bill = await fetch(`${base}/up/bills/20310615`);
    expect(bill.headers.get('content-type')).toMatch(/^text\/csv/);
    expect((await bill.text()).split('\n')[1]).toMatch(/^01,RetryOrder01,\d{21},,20310615120000,1999,156,0615,\d{6},$/);
  });

  it('refuses to approve after payTimeout', async () => {
    const front = await post(
      'frontTransReq.do',
      signed({ txnType: '01', txnSubType: '01', channelType: '08', orderId: 'LateOrder001', txnTime: '20310615110000', txnAmt: '100', currencyCode: '156', backUrl: `${merchantUrl}/n`, payTimeout: '20310615115959' }),
    );
    const action = /action="([^"]+)"/.exec(front.text)?.[1];
    const late = await fetch(`${base}${action}`, { method: 'POST', body: new URLSearchParams({ action: 'approve' }) });
    expect(late.status).toBe(410);
    expect(await late.text()).toContain('expired');
  });
});
