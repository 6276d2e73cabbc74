/**
 * The emulator seen from the wire, with a hand-rolled client: what it accepts, what it refuses, and
 * that its answers carry WeChat's signature headers.
 */
import { createSign, createVerify, randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWechatPayEmulator, type WechatPayEmulator } from './index.ts';

let app: FastifyInstance;
let emulator: WechatPayEmulator;
let base = '';

beforeAll(async () => {
  emulator = createWechatPayEmulator({ publicUrl: () => base, clockScale: 1000 });
  app = Fastify();
  await app.register(emulator.plugin);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  emulator?.stop();
  await app?.close();
});

async function call(method: 'GET' | 'POST', path: string, body?: unknown, tweak: { timestamp?: number; key?: string; sign?: string } = {}): Promise<Response> {
  const credentials = emulator.credentials();
  const url = new URL(credentials.baseUrl + path);
  const text = body === undefined ? '' : JSON.stringify(body);
  const timestamp = tweak.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = randomBytes(16).toString('hex');
  const message = `${method}\n${url.pathname}${url.search}\n${timestamp}\n${nonce}\n${tweak.sign ?? text}\n`;
  const signature = createSign('RSA-SHA256').update(message).sign(tweak.key ?? credentials.merchantPrivateKey.reveal(), 'base64');
  const authorization = `WECHATPAY2-SHA256-RSA2048 mchid="${credentials.mchId}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${credentials.merchantSerialNo}"`;
  return await fetch(url, { method, headers: { Authorization: authorization, 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: text }) });
}

function native(outTradeNo: string, total = 100) {
  const { appId, mchId } = emulator.credentials();
  return { appid: appId, mchid: mchId, description: '测试', out_trade_no: outTradeNo, notify_url: 'http://127.0.0.1:9/notify', amount: { total, currency: 'CNY' } };
}

describe('the WeChat Pay emulator on the wire', () => {
  it('signs its answers with the platform key over timestamp, nonce and the exact body', async () => {
    const response = await call('POST', '/v3/pay/transactions/native', native('emu_signed_1'));
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(JSON.parse(text)).toEqual({ code_url: expect.stringMatching(/\/sandbox\/wechat-pay\/pay\?pr=/) });
    const { platformPublicKey, publicKeyId } = emulator.credentials();
    expect(response.headers.get('wechatpay-serial')).toBe(publicKeyId);
    const message = `${response.headers.get('wechatpay-timestamp')}\n${response.headers.get('wechatpay-nonce')}\n${text}\n`;
    expect(createVerify('RSA-SHA256').update(message).verify(platformPublicKey ?? '', response.headers.get('wechatpay-signature') ?? '', 'base64')).toBe(true);
    expect(response.headers.get('request-id')).toMatch(/^08/);
  });

  it('refuses a request signed over another body, with another key or too long ago (401 SIGN_ERROR)', async () => {
    const other = createWechatPayEmulator({ publicUrl: 'http://127.0.0.1:1' });
    const answers = [
      await call('POST', '/v3/pay/transactions/native', native('emu_bad_1'), { sign: '{}' }),
      await call('POST', '/v3/pay/transactions/native', native('emu_bad_2'), { key: other.credentials().merchantPrivateKey.reveal() }),
      await call('POST', '/v3/pay/transactions/native', native('emu_bad_3'), { timestamp: Math.floor(Date.now() / 1000) - 301 }),
      await fetch(`${emulator.credentials().baseUrl}/v3/pay/transactions/native`, { method: 'POST', body: JSON.stringify(native('emu_bad_4')) }),
    ];
    other.stop();
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(await answer.json()).toEqual({ code: 'SIGN_ERROR', message: '签名错误' });
    }
    expect(emulator.store.getOrder('emu_bad_1')).toBeUndefined();
  });

  it("validates orders as WeChat does: amounts in whole fen, CNY, the merchant's appid", async () => {
    const bad = [
      { ...native('emu_val_1'), amount: { total: 1.5, currency: 'CNY' } },
      { ...native('emu_val_2'), amount: { total: 100, currency: 'USD' } },
      { ...native('emu_val_3'), appid: 'wx_other' },
      { ...native('emu_val_4'), out_trade_no: 'x' },
    ];
    const codes = [];
    for (const body of bad) codes.push(((await (await call('POST', '/v3/pay/transactions/native', body)).json()) as { code: string }).code);
    expect(codes).toEqual(['PARAM_ERROR', 'PARAM_ERROR', 'APPID_MCHID_NOT_MATCH', 'PARAM_ERROR']);
    expect((await call('POST', '/v3/pay/transactions/jsapi', native('emu_val_5'))).status).toBe(400);
  });

  it('has no platform certificates in public-key mode', async () => {
    const response = await call('GET', '/v3/certificates');
    expect(response.status).toBe(404);
  });

  it('serves a bilingual buyer page and records a walk-away without deciding', async () => {
    const created = (await (await call('POST', '/v3/pay/transactions/native', native('emu_page_1', 8_800))).json()) as { code_url: string };
    const html = await (await fetch(created.code_url)).text();
    expect(html).toContain('¥88.00');
    expect(html).toContain('Walk away');
    expect(html).toContain('离开，不支付');
    expect(html).not.toMatch(/<(script|link|img)\b/);
    const pr = new URL(created.code_url).searchParams.get('pr') ?? '';
    const left = await fetch(`${base}/sandbox/wechat-pay/pay`, { method: 'POST', body: new URLSearchParams({ pr, action: 'walk_away' }) });
    expect(await left.text()).toContain('您已离开');
    expect(emulator.store.getOrder('emu_page_1')).toMatchObject({ tradeState: 'NOTPAY', walkedAwayAt: expect.any(Date) });
    const control = await fetch(`${base}/sandbox/wechat-pay/_control/orders/emu_page_1/pay`, { method: 'POST' });
    expect(await control.json()).toEqual({ ok: true });
    expect(emulator.store.getOrder('emu_page_1')?.tradeState).toBe('SUCCESS');
  });

  it('downloads the bill with a signed request but an unsigned answer', async () => {
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const bill = (await (await call('GET', `/v3/bill/tradebill?bill_date=${today}&bill_type=ALL`)).json()) as { download_url: string; hash_type: string };
    expect(bill.hash_type).toBe('SHA1');
    const path = new URL(bill.download_url);
    const file = await call('GET', path.pathname.replace('/sandbox/wechat-pay', '') + path.search);
    expect(file.status).toBe(200);
    expect(file.headers.get('wechatpay-signature')).toBeNull();
    expect(await file.text()).toContain('`emu_page_1,');
    expect((await fetch(bill.download_url)).status).toBe(401);
  });
});
