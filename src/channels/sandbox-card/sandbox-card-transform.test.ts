import { describe, expect, it } from 'vitest';
import { sandboxCardStatuses, sandboxDeclineReasons, type SandboxCardAnswer } from '../../sandbox/cards/index.ts';
import { outcomeFromAnswer, outcomeFromOperation, reasonFromError } from './sandbox-card-transform.ts';

function answer(fields: Partial<SandboxCardAnswer>): SandboxCardAnswer {
  return {
    orderNo: 'ord_1',
    reference: 'sca_1',
    status: 'captured',
    amount: 100n,
    currency: 'usd',
    amountCaptured: 100n,
    amountRefunded: 0n,
    declineReason: undefined,
    message: undefined,
    challengeUrl: undefined,
    ...fields,
  };
}

describe('outcomeFromAnswer', () => {
  it('maps every status the acquirer documents', () => {
    const statuses = Object.fromEntries(
      sandboxCardStatuses.map((status) => [status, outcomeFromAnswer(answer({ status, challengeUrl: 'https://x.test/3ds', declineReason: 'generic_decline' })).status]),
    );
    expect(statuses).toEqual({
      captured: 'succeeded',
      authorized: 'requires_capture',
      declined: 'failed',
      challenge_required: 'requires_action',
      pending: 'processing',
      voided: 'canceled',
      not_found: 'processing',
    });
  });

  it('treats a status it does not know as processing, never as success or failure', () => {
    for (const status of ['approved', 'CAPTURED', '', 'succeeded']) {
      const outcome = outcomeFromAnswer(answer({ status }));
      expect(outcome.status).toBe('processing');
      expect(outcome).toMatchObject({ reference: 'sca_1', reason: expect.stringContaining('unknown acquirer status') });
    }
  });

  it('echoes the amount and currency the acquirer approved, not the ones asked for', () => {
    expect(outcomeFromAnswer(answer({ amount: 99n, currency: 'eur' }))).toEqual({ status: 'succeeded', reference: 'sca_1', amount: 99n, currency: 'eur' });
  });

  it('does not believe a success that lacks a reference, amount or currency', () => {
    expect(outcomeFromAnswer(answer({ reference: undefined })).status).toBe('processing');
    expect(outcomeFromAnswer(answer({ status: 'authorized', amount: undefined })).status).toBe('processing');
    expect(outcomeFromAnswer(answer({ currency: undefined })).status).toBe('processing');
  });

  it('does not redirect to a challenge it was given no URL for', () => {
    expect(outcomeFromAnswer(answer({ status: 'challenge_required', challengeUrl: undefined })).status).toBe('processing');
  });

  it('maps every decline reason to a Stripe error code', () => {
    for (const declineReason of sandboxDeclineReasons) {
      const outcome = outcomeFromAnswer(answer({ status: 'declined', declineReason }));
      expect(outcome.status, declineReason).toBe('failed');
      if (outcome.status === 'failed') expect(outcome.failure.message.length).toBeGreaterThan(0);
    }
    expect(outcomeFromAnswer(answer({ status: 'declined', declineReason: 'authentication_failed' }))).toMatchObject({
      failure: { code: 'payment_intent_authentication_failure', declineCode: undefined },
    });
  });

  it('keeps an explicit decline with an unknown reason a decline', () => {
    expect(outcomeFromAnswer(answer({ status: 'declined', declineReason: 'do_not_honor_v2' }))).toMatchObject({
      status: 'failed',
      failure: { code: 'card_declined', declineCode: undefined },
    });
  });
});

describe('outcomeFromOperation', () => {
  it('maps accepted, rejected and anything else', () => {
    expect(outcomeFromOperation({ result: 'accepted', reference: 'scc_1', reason: undefined, message: 'ok' })).toEqual({ status: 'succeeded', reference: 'scc_1' });
    expect(outcomeFromOperation({ result: 'rejected', reference: undefined, reason: 'invalid_state', message: 'no' })).toEqual({ status: 'failed', message: 'no' });
    expect(outcomeFromOperation({ result: 'accepted', reference: undefined, reason: undefined, message: 'ok' }).status).toBe('processing');
    expect(outcomeFromOperation({ result: 'maybe', reference: 'scc_1', reason: undefined, message: '?' }).status).toBe('processing');
  });
});

describe('reasonFromError', () => {
  it("keeps an error's name and code but not its message", () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 4242424242424242'), { code: 'ECONNREFUSED' });
    const reason = reasonFromError(error);
    expect(reason).toContain('ECONNREFUSED');
    expect(reason).not.toContain('4242');
  });
});
