/** The sandbox acquirer as an external system: its memory, its answers, its 3-D Secure pages. */
import Fastify, { type FastifyInstance } from 'fastify';
import qs from 'qs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { AssertionError, randomToken, Secret } from '../../kernel/index.ts';
import {
  createSandboxCardAcquirer,
  sandboxCardPages,
  SandboxCardTimeoutError,
  sandboxTimeoutCardNumber,
  type SandboxCardAcquirer,
  type SandboxCardAuthorizeRequest,
} from './index.ts';

let database: TestDatabase;
let acquirer: SandboxCardAcquirer;
let app: FastifyInstance;
let callbackShouldFail = false;
const callbacks: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ poolSize: 5 });
  acquirer = createSandboxCardAcquirer({
    db: database.db,
    publicUrl: 'http://localhost:4242',
    settleDelaySeconds: 0,
    onChallengeCompleted: async (orderNo) => {
      callbacks.push(orderNo);
      if (callbackShouldFail) throw new Error('sync failed');
    },
  });
  app = Fastify();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, qs.parse(body as string));
  });
  app.get('/elsewhere', async () => ({ ok: true }));
  await app.register(sandboxCardPages, { acquirer });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await database?.drop();
});

function authorizeRequest(number: string, fields: Partial<SandboxCardAuthorizeRequest> = {}): SandboxCardAuthorizeRequest {
  return {
    orderNo: `ord_${randomToken(20)}`,
    amount: 1_050n,
    currency: 'cny',
    captureMode: 'automatic',
    card: { number: new Secret(number), expMonth: 1, expYear: new Date().getUTCFullYear() + 2, cvc: undefined },
    returnUrl: undefined,
    ...fields,
  };
}

async function orderRows(): Promise<number> {
  const result = await database.db
    .withTables<{ sandbox_card_orders: { order_no: string } }>()
    .selectFrom('sandbox_card_orders')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(result.n);
}

function post(reference: string, payload: string) {
  return app.inject({ method: 'POST', url: `/sandbox/cards/3ds/${reference}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload });
}

describe('memory', () => {
  it('writes nothing for an authorization it answers at once', async () => {
    const before = await orderRows();
    for (const number of ['4242424242424242', '4000000000000002', '4242424242424241']) {
      await acquirer.authorize(authorizeRequest(number));
    }
    expect(await orderRows()).toBe(before);
  });

  it('remembers a challenge with brand and last four digits, never the card number', async () => {
    const answer = await acquirer.authorize(authorizeRequest('4000002760003184'));
    const row = await database.db
      .withTables<{ sandbox_card_orders: { order_no: string; card_brand: string; card_last4: string } }>()
      .selectFrom('sandbox_card_orders')
      .selectAll()
      .where('order_no', '=', answer.orderNo)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ card_brand: 'visa', card_last4: '3184' });
    expect(JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain('4000002760003184');
  });

  it('rejects the no-answer card with a timeout every time, remembering it once', async () => {
    const request = authorizeRequest(sandboxTimeoutCardNumber);
    const before = await orderRows();
    await expect(acquirer.authorize(request)).rejects.toBeInstanceOf(SandboxCardTimeoutError);
    await expect(acquirer.authorize(request)).rejects.toBeInstanceOf(SandboxCardTimeoutError);
    expect(await orderRows()).toBe(before + 1);
    // settleDelaySeconds is 0 here: the approval is visible at once.
    expect(await acquirer.query({ orderNo: request.orderNo, reference: undefined, amount: 1n, currency: 'cny' })).toMatchObject({
      status: 'captured',
      amount: 1_050n,
      amountCaptured: 1_050n,
    });
  });

  it('treats a non-positive amount as the caller’s bug', async () => {
    await expect(acquirer.authorize(authorizeRequest('4242424242424242', { amount: 0n }))).rejects.toBeInstanceOf(AssertionError);
  });
});

describe('follow-up operations', () => {
  it('refuses a reference it did not issue, and one whose amount or currency changed', async () => {
    const request = authorizeRequest('4242424242424242', { captureMode: 'manual' });
    const answer = await acquirer.authorize(request);
    const order = { orderNo: request.orderNo, reference: answer.reference, amount: request.amount, currency: request.currency };
    expect(await acquirer.capture({ ...order, reference: `sca_${randomToken(24)}`, amountToCapture: 1n })).toMatchObject({ result: 'rejected', reason: 'order_not_found' });
    expect(await acquirer.capture({ ...order, amount: 9_999n, amountToCapture: 1n })).toMatchObject({ result: 'rejected', reason: 'order_not_found' });
    expect(await acquirer.capture({ ...order, amountToCapture: 0n })).toMatchObject({ result: 'rejected', reason: 'amount_invalid' });
    expect(await acquirer.capture({ ...order, amountToCapture: 1_050n })).toMatchObject({ result: 'accepted' });
    // Now the order has a row: a mismatching follow-up is named as such.
    expect(await acquirer.refund({ ...order, currency: 'usd', refundNo: 'r1', refundAmount: 1n })).toMatchObject({ result: 'rejected', reason: 'order_mismatch' });
    expect(await acquirer.query(order)).toMatchObject({ status: 'captured', amountCaptured: 1_050n, amountRefunded: 0n });
  });

  it('reports refunded amounts on query', async () => {
    const request = authorizeRequest('5555555555554444');
    const answer = await acquirer.authorize(request);
    const order = { orderNo: request.orderNo, reference: answer.reference, amount: request.amount, currency: request.currency };
    await acquirer.refund({ ...order, refundNo: 'r1', refundAmount: 50n });
    expect(await acquirer.query(order)).toMatchObject({ status: 'captured', amountCaptured: 1_050n, amountRefunded: 50n });
  });
});

describe('the 3-D Secure pages', () => {
  async function challenge(fields: Partial<SandboxCardAuthorizeRequest> = {}) {
    const answer = await acquirer.authorize(authorizeRequest('4000002500003155', fields));
    expect(answer.status).toBe('challenge_required');
    expect(answer.challengeUrl).toBe(`http://localhost:4242/sandbox/cards/3ds/${answer.reference}`);
    return answer.reference!;
  }

  it('shows a bilingual, self-contained page for a pending challenge', async () => {
    const reference = await challenge({ amount: 123_456n, currency: 'jpy' });
    const page = await app.inject({ method: 'GET', url: `/sandbox/cards/3ds/${reference}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('123456 JPY');
    expect(page.body).toContain('Visa •••• 3155');
    expect(page.body).toContain('name="viewport"');
    expect(page.body).toContain('验证本次付款');
    expect(page.body).toContain('value="approve"');
    expect(page.body).toContain('value="fail"');
    expect(page.body).not.toMatch(/<script|<link|<img|src=/i);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['cache-control']).toBe('no-store');
  });

  it('answers 404 with a page for an unknown or malformed reference', async () => {
    for (const url of [`/sandbox/cards/3ds/sca_${randomToken(24)}`, '/sandbox/cards/3ds/%3Cscript%3E']) {
      const page = await app.inject({ method: 'GET', url });
      expect(page.statusCode).toBe(404);
      expect(page.body).toContain('Authentication not found');
      expect(page.body).toContain('未找到该验证');
      expect(page.body).not.toContain('<script>');
      expect((await post(url.split('/').at(-1)!, 'result=approve')).statusCode).toBe(404);
    }
  });

  it('has no page for an order that never had a challenge', async () => {
    const request = authorizeRequest(sandboxTimeoutCardNumber);
    await expect(acquirer.authorize(request)).rejects.toThrow();
    const answer = await acquirer.query({ orderNo: request.orderNo, reference: undefined, amount: request.amount, currency: request.currency });
    expect((await app.inject({ method: 'GET', url: `/sandbox/cards/3ds/${answer.reference}` })).statusCode).toBe(404);
  });

  it('asks again when the answer is neither approve nor fail', async () => {
    const reference = await challenge();
    expect((await post(reference, 'result=maybe')).statusCode).toBe(400);
    expect((await post(reference, '')).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: `/sandbox/cards/3ds/${reference}` })).body).toContain('value="approve"');
  });

  it('shows a done page when there is no return URL, and again on a later visit', async () => {
    const reference = await challenge();
    const done = await post(reference, 'result=approve');
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('Authentication complete');
    expect(done.body).toContain('您可以关闭此窗口');
    const later = await app.inject({ method: 'GET', url: `/sandbox/cards/3ds/${reference}` });
    expect(later.body).toContain('Authentication complete');
    expect(later.body).not.toContain('value="approve"');
  });

  it('says a failed challenge failed', async () => {
    const reference = await challenge();
    expect((await post(reference, 'result=fail')).body).toContain('Authentication failed');
  });

  it('never redirects to a URL that is not http(s), and escapes the one it links to', async () => {
    const bad = await challenge({ returnUrl: 'javascript:alert(1)' });
    const answer = await post(bad, 'result=approve');
    expect(answer.statusCode).toBe(200);
    expect(answer.body).not.toContain('javascript:');

    const odd = await challenge({ returnUrl: 'https://shop.test/back?x="><script>alert(1)</script>' });
    const redirect = await post(odd, 'result=approve');
    expect(redirect.statusCode).toBe(303);
    const later = await app.inject({ method: 'GET', url: `/sandbox/cards/3ds/${odd}` });
    expect(later.body).toContain('href="https://shop.test/back?x=%22%3E%3Cscript%3Ealert(1)%3C/script%3E"');
    expect(later.body).not.toContain('<script>');
  });

  it('still records the answer and sends the payer back when Fenpay’s callback fails', async () => {
    const reference = await challenge({ returnUrl: 'https://shop.test/back' });
    callbackShouldFail = true;
    try {
      const answer = await post(reference, 'result=approve');
      expect(answer.statusCode).toBe(303);
      expect(answer.headers.location).toBe('https://shop.test/back');
    } finally {
      callbackShouldFail = false;
    }
    const view = await acquirer.challenge(reference);
    expect(view).toMatchObject({ state: 'completed', outcome: 'approved' });
  });

  it('tells Fenpay once even when two answers race', async () => {
    const reference = await challenge();
    callbacks.length = 0;
    await Promise.all([post(reference, 'result=approve'), post(reference, 'result=fail'), post(reference, 'result=approve')]);
    expect(callbacks).toHaveLength(1);
  });

  it('adds no hooks or headers to the rest of the app', async () => {
    const other = await app.inject({ method: 'GET', url: '/elsewhere' });
    expect(other.statusCode).toBe(200);
    expect(other.headers['content-security-policy']).toBeUndefined();
  });
});
