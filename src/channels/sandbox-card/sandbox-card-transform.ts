/**
 * Pure translation: Fenpay's neutral requests into the sandbox acquirer's, and its answers into
 * ChannelOutcomes. An answer missing what its status promises (a reference, an amount, a challenge
 * URL) is unverifiable and therefore processing, never a guess.
 */
import { assertNever, type Secret } from '../../kernel/index.ts';
import type { AuthorizeRequest, ChannelFailure, ChannelOutcome, ChannelPaymentMethod, OperationOutcome, OrderRef } from '../channel.ts';
import type { SandboxCardAnswer, SandboxCardAuthorizeRequest, SandboxCardOperationAnswer, SandboxCardOrderRef } from '../../sandbox/cards/index.ts';
import { declineFailures, isKnownDeclineReason, isKnownStatus, statusOutcomes, unknownDeclineFailure } from './sandbox-card-status.ts';

export type CardPaymentMethod = Extract<ChannelPaymentMethod, { readonly number: Secret<string> }>;

export function isCardPaymentMethod(method: ChannelPaymentMethod): method is CardPaymentMethod {
  return method.type === 'card' && 'number' in method;
}

export function toAuthorizeRequest(request: AuthorizeRequest, card: CardPaymentMethod): SandboxCardAuthorizeRequest {
  return {
    orderNo: request.orderNo,
    amount: request.amount,
    currency: request.currency,
    captureMode: request.capture,
    card: { number: card.number, expMonth: card.expMonth, expYear: card.expYear, cvc: card.cvc },
    returnUrl: request.returnUrl === '' ? undefined : request.returnUrl,
  };
}

export function toOrderRef(order: OrderRef): SandboxCardOrderRef {
  return { orderNo: order.orderNo, reference: order.reference, amount: order.amount, currency: order.currency };
}

function processing(reference: string | undefined, reason: string): ChannelOutcome {
  return { status: 'processing', reference, reason };
}

function failureOf(declineReason: string | undefined): ChannelFailure {
  return declineReason !== undefined && isKnownDeclineReason(declineReason) ? declineFailures[declineReason] : unknownDeclineFailure;
}

/** The acquirer's answer to authorize or query, as a ChannelOutcome. */
export function outcomeFromAnswer(answer: SandboxCardAnswer): ChannelOutcome {
  const { reference } = answer;
  if (!isKnownStatus(answer.status)) return processing(reference, `unknown acquirer status ${JSON.stringify(answer.status)}`);
  const mapped = statusOutcomes[answer.status];
  switch (mapped) {
    case 'succeeded':
    case 'requires_capture':
      // Echo what the acquirer says it approved; the flow compares it with what was asked.
      if (reference === undefined || answer.amount === undefined || answer.currency === undefined) {
        return processing(reference, `acquirer answered ${answer.status} without reference, amount or currency`);
      }
      return { status: mapped, reference, amount: answer.amount, currency: answer.currency };
    case 'requires_action':
      if (reference === undefined || answer.challengeUrl === undefined) return processing(reference, 'acquirer asked for 3-D Secure without a challenge URL');
      return { status: 'requires_action', reference, action: { type: 'redirect_to_url', url: answer.challengeUrl } };
    case 'failed':
      return { status: 'failed', reference, failure: failureOf(answer.declineReason) };
    case 'canceled':
      return { status: 'canceled', reference };
    case 'processing':
      return processing(reference, answer.status === 'not_found' ? 'the acquirer has no record of the order' : 'the acquirer has not reported the outcome yet');
    default:
      return assertNever(mapped, 'unmapped sandbox card status');
  }
}

/** The acquirer's answer to capture, void or refund. */
export function outcomeFromOperation(answer: SandboxCardOperationAnswer): OperationOutcome {
  switch (answer.result) {
    case 'accepted':
      return answer.reference === undefined ? { status: 'processing', reason: 'acquirer accepted without a reference' } : { status: 'succeeded', reference: answer.reference };
    case 'rejected':
      return { status: 'failed', message: answer.message };
    default:
      return { status: 'processing', reason: `unknown acquirer result ${JSON.stringify(answer.result)}` };
  }
}

/**
 * A call that threw says nothing about the outcome (the acquirer may have acted before the answer was
 * lost), so it is processing. Only the error's name and code are kept: messages are not ours to trust.
 */
export function reasonFromError(error: unknown): string {
  const name = error instanceof Error ? error.name : typeof error;
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  return code === undefined ? `acquirer call failed (${name})` : `acquirer call failed (${name} ${code})`;
}
