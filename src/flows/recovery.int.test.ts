/**
 * Crash recovery: a capture, cancel or refund whose process died (or whose channel did not answer)
 * after the first write is finished by the sweeper's recovery — booked exactly once, never lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startTestFenpay, type TestFenpay, type TestMerchant } from '../../test/support/fenpay.ts';
import { auditLedger } from '../ledger/index.ts';
import { recoverPendingRefund, recoverStuckCancel, recoverStuckCapture } from './index.ts';
import type { ChannelAdapter } from '../channels/channel.ts';

let env: TestFenpay;
let shop: TestMerchant;

beforeAll(async () => {
  env = await startTestFenpay({ withoutJobQueue: true });
  shop = await env.createMerchant();
});
afterAll(async () => {
  await env?.close();
});

async function attemptOf(intentId: string) {
  return await env.database.db.selectFrom('payment_attempts').selectAll().where('payment_intent_id', '=', intentId).executeTakeFirstOrThrow();
}

async function ledgerIsBalanced() {
  const audit = await auditLedger(env.database.db);
  for (const t of audit.totals) {
    expect(t.debitsPosted).toBe(t.creditsPosted);
    expect(t.debitsPending).toBe(t.creditsPending);
  }
  expect(audit.bucketMismatches).toEqual([]);
  expect(audit.negativeAccounts).toEqual([]);
}

function sandboxChannel(): ChannelAdapter {
  return env.fenpay.services.channels.get('sandbox_card')!;
}

describe('recovering work that was sent but not booked', () => {
  it('books a capture whose process died after the channel captured, exactly once', async () => {
    const intent = await shop.stripe.paymentIntents.create({ amount: 8000, currency: 'usd', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
    const attempt = await attemptOf(intent.id);
    // Phase 1 and the channel call happened; the process died before phase 3.
    await sql`UPDATE payment_attempts SET status = 'capturing', amount_captured = 5000, version = version + 1 WHERE id = ${attempt.id}`.execute(env.database.db);
    const captured = await sandboxChannel().capture({ orderNo: attempt.channel_order_no, reference: attempt.channel_reference ?? undefined, amount: 8000n, currency: 'usd', amountToCapture: 5000n });
    expect(captured.status).toBe('succeeded');

    expect(await recoverStuckCapture(env.fenpay.services, attempt.id)).toBe('booked');
    expect(await recoverStuckCapture(env.fenpay.services, attempt.id)).toBe('not_applicable');
    const after = await shop.stripe.paymentIntents.retrieve(intent.id);
    expect(after).toMatchObject({ status: 'succeeded', amount_received: 5000, amount_capturable: 0 });
    const transfers = await env.database.db.selectFrom('ledger_transfers').select(['code', 'amount']).where('source_id', '=', attempt.id).orderBy('created_at').execute();
    expect(transfers.map((t) => t.code).sort()).toEqual(['authorization', 'capture', 'fee']);
    await ledgerIsBalanced();
  });

  it('finishes a cancel whose process died after marking it, voiding the hold', async () => {
    const intent = await shop.stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
    const attempt = await attemptOf(intent.id);
    await sql`UPDATE payment_attempts SET status = 'canceling', version = version + 1 WHERE id = ${attempt.id}`.execute(env.database.db);
    // While canceling, neither capture nor another cancel may go through.
    await expect(shop.stripe.paymentIntents.capture(intent.id)).rejects.toMatchObject({ code: 'payment_intent_unexpected_state' });
    expect(await recoverStuckCancel(env.fenpay.services, attempt.id)).toBe('canceled');
    const after = await shop.stripe.paymentIntents.retrieve(intent.id);
    expect(after).toMatchObject({ status: 'canceled', amount_capturable: 0 });
    const open = await auditLedger(env.database.db);
    expect(open.openPendingTransfers).toBe(0);
    await ledgerIsBalanced();
  });

  it('settles a refund the channel did not answer, by asking again with the same refund number', async () => {
    // Fund the balance first so refunds are possible.
    await shop.stripe.paymentIntents.create({ amount: 50_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const intent = await shop.stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const channel = sandboxChannel();
    const original = channel.refund.bind(channel);
    let calls = 0;
    // The first refund call reaches the acquirer, then the answer is lost.
    (channel as { refund: ChannelAdapter['refund'] }).refund = async (request) => {
      calls += 1;
      const answer = await original(request);
      if (calls === 1) throw new Error('connection reset after the request was sent');
      return answer;
    };
    try {
      const refund = await shop.stripe.refunds.create({ payment_intent: intent.id, amount: 1200 });
      expect(refund.status).toBe('pending');
      const balanceWhilePending = await shop.stripe.balance.retrieve();
      expect(await recoverPendingRefund(env.fenpay.services, refund.id)).toBe('settled');
      expect(await recoverPendingRefund(env.fenpay.services, refund.id)).toBe('not_applicable');
      expect((await shop.stripe.refunds.retrieve(refund.id)).status).toBe('succeeded');
      // The hold already reserved the money: settling moves it from reserved to spent, the available balance does not change again.
      expect((await shop.stripe.balance.retrieve()).available).toEqual(balanceWhilePending.available);
      expect(calls).toBe(2);
      const refundTransfers = await env.database.db.selectFrom('ledger_transfers').select(['phase']).where('source_id', '=', refund.id).execute();
      expect(refundTransfers.map((t) => t.phase).sort()).toEqual(['pending', 'post']);
      await ledgerIsBalanced();
    } finally {
      (channel as { refund: ChannelAdapter['refund'] }).refund = original;
    }
  });
});
