/**
 * Routing, health and failover across two Alipay accounts of one merchant, each on its own Alipay
 * emulator (its own server, its own keys, its own heartbeat endpoint), driven by the emulators' fault
 * switches: a channel that stops answering leaves rotation within the window and new payments go to the
 * backup; it comes back when healthy; a flapping one does not bounce traffic; with both down a payment
 * is refused and nothing is charged; an unknown-then-late success on A next to a success on B keeps one
 * charge and refunds the other; fees are booked at the configured rates to the minor unit.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLedger } from '../src/ledger/index.ts';
import { applyChannelOutcome } from '../src/flows/index.ts';
import { createAlipayEmulator, type AlipayEmulator } from '../src/sandbox/alipay/index.ts';
import { freePort, startTestFenpay, type TestFenpay, type TestMerchant } from './support/fenpay.ts';
import { stripeError } from './support/stripe-error.ts';
import { until } from './support/until.ts';

interface Provider {
  readonly emulator: AlipayEmulator;
  readonly server: FastifyInstance;
  readonly healthUrl: string;
}

async function startProvider(name: string): Promise<Provider> {
  const port = await freePort();
  const emulator = createAlipayEmulator({ publicUrl: `http://127.0.0.1:${port}`, prefix: `/${name}`, clockScale: 600, appId: `20210000000000${name === 'a' ? '01' : '02'}` });
  const server = Fastify();
  await server.register(emulator.plugin);
  await server.listen({ host: '127.0.0.1', port });
  return { emulator, server, healthUrl: `http://127.0.0.1:${port}/${name}/health` };
}


describe('routing and failover across channel accounts', () => {
  let fenpay: TestFenpay;
  let shop: TestMerchant;
  let a: Provider;
  let b: Provider;
  const accounts: Record<'a' | 'b', string> = { a: '', b: '' };

  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${fenpay.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${shop.secretKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const health = async (which: 'a' | 'b') => (await api<{ health: { in_rotation: boolean } }>('GET', `/v1/channel_accounts/${accounts[which]}`)).body.health;
  const pay = async (amount = 10_000) => {
    const intent = await shop.stripe.paymentIntents.create({
      amount,
      currency: 'cny',
      allowed_payment_method_types: ['alipay'],
      payment_method_data: { type: 'alipay' },
      payment_method_options: { alipay: { fenpay_flow: 'qr' } } as never,
      confirm: true,
    });
    const charge = (await shop.stripe.charges.retrieve(intent.latest_charge as string)) as unknown as { fenpay_channel_account: string; fenpay_routing: { reason: string; candidates: { account: string; eligible: boolean }[] } };
    return { intent, charge, via: charge.fenpay_channel_account === accounts.a ? 'a' : charge.fenpay_channel_account === accounts.b ? 'b' : 'other' };
  };
  const approve = (provider: Provider, chargeId: string) => {
    const orderNo = chargeId.slice(3);
    provider.emulator.buyer.scan(orderNo);
    provider.emulator.buyer.act(orderNo, 'approve');
  };

  beforeAll(async () => {
    fenpay = await startTestFenpay({ env: { CHANNEL_UNHEALTHY_AFTER: '1s', CHANNEL_PROBE_INTERVAL: '150ms', CHANNEL_PROBE_TIMEOUT: '500ms', CHANNEL_RETURN_AFTER_SUCCESSES: '3' } });
    shop = await fenpay.createMerchant();
    a = await startProvider('a');
    b = await startProvider('b');
    for (const [which, provider, priority, fees] of [
      ['a', a, 1, [{ currency: 'cny', percent_bps: 120, fixed_amount: 30 }]],
      ['b', b, 2, [{ percent_bps: 60, fixed_amount: 0 }]],
    ] as const) {
      const credentials = provider.emulator.credentials();
      const created = await api<{ id: string }>('POST', '/v1/channel_accounts', {
        channel: 'alipay',
        description: `Alipay ${which}`,
        priority,
        fees,
        credentials: { app_id: credentials.appId, private_key: credentials.privateKey.reveal(), alipay_public_key: credentials.alipayPublicKey, gateway: credentials.gateway, health_url: provider.healthUrl },
      });
      expect(created.status).toBe(200);
      accounts[which] = created.body.id;
    }
    await until('both accounts to be probed healthy', async () => ((await health('a'))?.in_rotation && (await health('b'))?.in_rotation ? true : undefined));
  });
  afterAll(async () => {
    for (const provider of [a, b]) {
      provider?.emulator.stop();
      await provider?.server.close();
    }
    await fenpay?.close();
  });

  it('routes to the highest-priority healthy account and records why; books its fee to the minor unit', async () => {
    const { intent, charge, via } = await pay(10_000);
    expect(via).toBe('a');
    expect(charge.fenpay_routing.reason).toContain('highest priority');
    expect(charge.fenpay_routing.candidates.map((c) => [c.account, c.eligible])).toEqual([
      [accounts.a, true],
      [accounts.b, true],
    ]);
    approve(a, intent.latest_charge as string);
    await until('the payment to succeed', async () => ((await shop.stripe.paymentIntents.retrieve(intent.id)).status === 'succeeded' ? true : undefined));
    const txn = (await shop.stripe.balanceTransactions.list({ limit: 10 })).data.find((t) => t.source === intent.latest_charge);
    // 1.20 % of ¥100.00 = 120 fen, plus 30 fen fixed.
    expect(txn?.fee).toBe(150);
    expect(txn?.net).toBe(10_000 - 150);
  });

  it('moves new payments to the backup within the window when the primary stops answering, and back when it recovers', async () => {
    a.emulator.faults.outage(true);
    const stopped = Date.now();
    await until('A to leave rotation', async () => ((await health('a')).in_rotation ? undefined : true), 10_000);
    const switchedAfter = Date.now() - stopped;
    expect(switchedAfter).toBeLessThan(5_000); // window 1 s + probe interval, with CI slack
    const { charge, via } = await pay();
    expect(via).toBe('b');
    expect(charge.fenpay_routing.reason).toContain(`failed over from ${accounts.a}`);
    const listed = await api<{ data: { id: string; health: { status: string } }[] }>('GET', '/v1/channel_accounts');
    expect(listed.body.data.find((x) => x.id === accounts.a)?.health.status).toBe('out_of_rotation');
    const metrics = await (await fetch(`${fenpay.url}/metrics`)).text();
    expect(metrics).toContain(`fenpay_channel_in_rotation{target="${accounts.a}"} 0`);

    a.emulator.faults.outage(false);
    await until('A to return to rotation', async () => ((await health('a')).in_rotation ? true : undefined), 10_000);
    expect((await pay()).via).toBe('a');
  });

  it('does not bounce traffic to a flapping channel', async () => {
    a.emulator.faults.outage(true);
    await until('A to leave rotation', async () => ((await health('a')).in_rotation ? undefined : true), 10_000);
    // Up for one probe at a time, then down again: never the three healthy answers in a row it needs.
    const vias: string[] = [];
    for (let i = 0; i < 6; i++) {
      a.emulator.faults.outage(false);
      await new Promise((resolve) => setTimeout(resolve, 180));
      a.emulator.faults.outage(true);
      vias.push((await pay()).via);
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    expect(vias.every((v) => v === 'b')).toBe(true);
    a.emulator.faults.outage(false);
    await until('A to return', async () => ((await health('a')).in_rotation ? true : undefined), 10_000);
  });

  it('refuses a payment when every channel is down, charging nothing', async () => {
    a.emulator.faults.outage(true);
    b.emulator.faults.outage(true);
    try {
      await until('both to leave rotation', async () => (!(await health('a')).in_rotation && !(await health('b')).in_rotation ? true : undefined), 10_000);
      const before = await auditLedger(fenpay.database.db);
      const intent = await shop.stripe.paymentIntents.create({ amount: 500, currency: 'cny', allowed_payment_method_types: ['alipay'] });
      const error = await stripeError(shop.stripe.paymentIntents.confirm(intent.id, { payment_method_data: { type: 'alipay' } }));
      expect(error).toMatchObject({ statusCode: 503, code: 'no_channel_available' });
      expect(error.message).toContain('Nothing was charged');
      const after = await shop.stripe.paymentIntents.retrieve(intent.id);
      expect(after.status).toBe('requires_payment_method');
      expect(after.latest_charge).toBeNull();
      expect((await auditLedger(fenpay.database.db)).totals).toEqual(before.totals);
    } finally {
      a.emulator.faults.outage(false);
      b.emulator.faults.outage(false);
      await until('both to return', async () => ((await health('a')).in_rotation && (await health('b')).in_rotation ? true : undefined), 10_000);
    }
  });

  it('keeps one charge and refunds the other when an attempt on A turns out paid after B took the payment', async () => {
    const { intent, via } = await pay(8_800);
    expect(via).toBe('a');
    const firstCharge = intent.latest_charge as string;
    // A's answer about the first attempt was wrong: it looked failed, so the payer paid again, on B.
    await applyChannelOutcome(fenpay.fenpay.services, firstCharge, { status: 'failed', reference: undefined, failure: { code: 'processing_error', declineCode: 'alipay_closed', message: 'closed' } });
    a.emulator.faults.outage(true);
    await until('A to leave rotation', async () => ((await health('a')).in_rotation ? undefined : true), 10_000);
    const retry = await shop.stripe.paymentIntents.confirm(intent.id, { payment_method_data: { type: 'alipay' }, payment_method_options: { alipay: { fenpay_flow: 'qr' } } as never });
    const secondCharge = retry.latest_charge as string;
    expect(secondCharge).not.toBe(firstCharge);
    approve(b, secondCharge);
    await until('the payment on B to succeed', async () => ((await shop.stripe.paymentIntents.retrieve(intent.id)).status === 'succeeded' ? true : undefined));

    // Then A comes back and the first attempt is paid after all: its notification must not be lost.
    a.emulator.faults.outage(false);
    approve(a, firstCharge);
    const refund = await until('the duplicate to be refunded automatically', async () => {
      const refunds = await shop.stripe.refunds.list({ payment_intent: intent.id });
      return refunds.data.find((r) => r.charge === firstCharge && r.status === 'succeeded');
    }, 30_000);
    expect(refund).toMatchObject({ amount: 8_800, reason: 'duplicate', metadata: { fenpay_auto_refund: 'late_duplicate_success' } });
    const final = await shop.stripe.paymentIntents.retrieve(intent.id);
    expect(final).toMatchObject({ status: 'succeeded', amount_received: 8_800 });
    // The duplicate's refund is the duplicate's: the payment kept is not refunded at all.
    const row = await fenpay.database.db.selectFrom('payment_intents').select('amount_refunded').where('id', '=', intent.id).executeTakeFirstOrThrow();
    expect(row.amount_refunded).toBe(0n);
    const kept = await fenpay.database.db.selectFrom('payment_attempts').select(['amount_refunded', 'status']).where('id', '=', secondCharge).executeTakeFirstOrThrow();
    expect(kept).toEqual({ amount_refunded: 0n, status: 'succeeded' });
    expect(final.latest_charge).toBe(secondCharge);
    expect(a.emulator.trade(firstCharge.slice(3))?.amountRefunded).toBe('88.00');
    const audit = await auditLedger(fenpay.database.db);
    for (const total of audit.totals) expect(total.debitsPosted).toBe(total.creditsPosted);
    expect(audit.negativeAccounts).toEqual([]);
  }, 60_000);

  it('takes the cheapest eligible account when told to', async () => {
    expect((await api('POST', '/v1/routing_settings', { strategy: 'cheapest' })).status).toBe(200);
    try {
      const { via, charge } = await pay(10_000);
      expect(via).toBe('b'); // 0.6 % beats 1.2 % + 30
      expect(charge.fenpay_routing.reason).toContain('cheapest');
    } finally {
      await api('POST', '/v1/routing_settings', { strategy: 'priority' });
    }
    expect((await api<{ error: { param: string } }>('POST', '/v1/routing_settings', { strategy: 'random' })).status).toBe(400);
  });
});
