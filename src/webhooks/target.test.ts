import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkWebhookUrl, isPublicAddress } from './target.ts';
import { postWebhook } from './sender.ts';
import { signatureHeader } from './signature.ts';
import Stripe from 'stripe';

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['2606:4700:4700::1111', true],
    ['127.0.0.1', false],
    ['10.1.2.3', false],
    ['172.16.0.1', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['255.255.255.255', false],
    ['224.0.0.1', false],
    ['::1', false],
    ['::', false],
    ['fe80::1', false],
    ['fc00::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:8.8.8.8', true],
    ['64:ff9b::a00:1', false],
    ['2002:a00:1::', false],
    ['not an ip', false],
  ])('%s → %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('checkWebhookUrl', () => {
  const live = { livemode: true, allowPrivate: false };
  const resolveTo = (addresses: string[]) => async () => addresses;

  it('refuses non-https in live mode and odd schemes anywhere', async () => {
    expect(await checkWebhookUrl('http://example.com/hook', live, resolveTo(['93.184.216.34']))).toMatchObject({ ok: false });
    expect(await checkWebhookUrl('ftp://example.com/hook', { livemode: false, allowPrivate: true })).toMatchObject({ ok: false });
    expect(await checkWebhookUrl('not a url', live)).toMatchObject({ ok: false });
    expect(await checkWebhookUrl('https://example.com/hook', live, resolveTo(['93.184.216.34']))).toMatchObject({ ok: true });
  });

  it.each([
    'https://127.0.0.1/hook',
    'https://2130706433/hook', // 127.0.0.1 as one number
    'https://0x7f.1/hook',
    'https://[::1]/hook',
    'https://[::ffff:7f00:1]/hook',
    'https://169.254.169.254/latest/meta-data',
    'https://10.0.0.5:8443/hook',
    'https://localhost/hook',
    'https://db.internal/hook',
  ])('refuses %s in live mode', async (url) => {
    const verdict = await checkWebhookUrl(url, live, resolveTo(['8.8.8.8']));
    expect(verdict.ok).toBe(false);
  });

  it('refuses a name that resolves to a private address, and accepts it when private targets are allowed', async () => {
    const verdict = await checkWebhookUrl('https://rebind.example/hook', live, resolveTo(['93.184.216.34', '10.0.0.1']));
    expect(verdict).toMatchObject({ ok: false });
    if (!verdict.ok) expect(verdict.reason).toContain('10.0.0.1');
    expect(await checkWebhookUrl('http://127.0.0.1:3000/hook', { livemode: false, allowPrivate: true })).toMatchObject({ ok: true });
  });
});

describe('postWebhook', () => {
  let server: http.Server;
  let port = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(301, { location: 'http://169.254.169.254/' });
        res.end();
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const post = (url: string, allowPrivate: boolean) => postWebhook({ url, body: '{}', headers: {}, timeoutMs: 2000, allowPrivate });

  it('connects to a private address only when allowed, whether named by IP or by a name', async () => {
    expect(await post(`http://127.0.0.1:${port}/`, true)).toMatchObject({ status: 200, error: undefined, snippet: 'ok' });
    const literal = await post(`http://127.0.0.1:${port}/`, false);
    expect(literal.status).toBeUndefined();
    expect(literal.error).toContain('private');
    const named = await post(`http://localhost:${port}/`, false);
    expect(named.status).toBeUndefined();
    expect(named.error).toContain('private');
  });

  it('does not follow a redirect', async () => {
    const result = await post(`http://127.0.0.1:${port}/redirect`, true);
    expect(result.status).toBe(301);
    expect(result.error).toContain('not followed');
  });
});

describe('signatureHeader', () => {
  it('is what the official SDK verifies, one v1 per secret', () => {
    const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'customer.created', data: { object: {} } });
    const now = Math.floor(Date.now() / 1000);
    const header = signatureHeader(payload, ['whsec_new', 'whsec_old'], now);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    const stripe = new Stripe('sk_test_unused');
    expect(stripe.webhooks.constructEvent(payload, header, 'whsec_old').id).toBe('evt_1');
    expect(stripe.webhooks.constructEvent(payload, header, 'whsec_new').id).toBe('evt_1');
    expect(() => stripe.webhooks.constructEvent(payload, header, 'whsec_other')).toThrow();
    expect(() => stripe.webhooks.constructEvent(payload, signatureHeader(payload, ['whsec_old'], now - 600), 'whsec_old')).toThrow(/tolerance/);
  });
});
