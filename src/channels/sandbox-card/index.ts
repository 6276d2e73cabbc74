/**
 * The sandbox card channel: Fenpay's adapter for the sandbox card acquirer (src/sandbox/cards), which
 * plays the part a provider SDK plays for a real channel. It translates and decides nothing: declines
 * and "not known yet" come back as ChannelOutcomes; only bugs (AssertionError) are thrown.
 */
import { assert, AssertionError } from '../../kernel/index.ts';
import type { ChannelAdapter, ChannelOutcome, OperationOutcome } from '../channel.ts';
import type { SandboxCardAcquirer } from '../../sandbox/cards/index.ts';
import { SandboxCardTimeoutError } from '../../sandbox/cards/index.ts';
import { isCardPaymentMethod, outcomeFromAnswer, outcomeFromOperation, reasonFromError, toAuthorizeRequest, toOrderRef } from './sandbox-card-transform.ts';

export interface SandboxCardChannelOptions {
  readonly acquirer: SandboxCardAcquirer;
}

/** A thrown call is unknown, not failed; a bug stays a bug. */
function unknownOutcome(error: unknown): ChannelOutcome {
  if (error instanceof AssertionError) throw error;
  const reason = error instanceof SandboxCardTimeoutError ? 'the acquirer did not answer in time' : reasonFromError(error);
  return { status: 'processing', reference: undefined, reason };
}

function unknownOperation(error: unknown): OperationOutcome {
  if (error instanceof AssertionError) throw error;
  return { status: 'processing', reason: reasonFromError(error) };
}

export function createSandboxCardChannel({ acquirer }: SandboxCardChannelOptions): ChannelAdapter {
  return {
    id: 'sandbox_card',
    displayName: 'Sandbox card acquirer',
    paymentMethodTypes: ['card'],
    modes: ['test'],
    capabilities: { manualCapture: true, partialCapture: true, refund: true, partialRefund: true, cancel: true, query: true },

    async authorize(request) {
      // Routing a live payment to an emulator that approves 4242… would be a free lunch: a bug, not an outcome.
      assert(!request.livemode, 'the sandbox card channel serves test mode only');
      const method = request.paymentMethod;
      assert(isCardPaymentMethod(method), `the sandbox card channel cannot authorize a ${method.type} payment method`);
      try {
        return outcomeFromAnswer(await acquirer.authorize(toAuthorizeRequest(request, method)));
      } catch (error) {
        return unknownOutcome(error);
      }
    },

    async query(order) {
      try {
        return outcomeFromAnswer(await acquirer.query(toOrderRef(order)));
      } catch (error) {
        return unknownOutcome(error);
      }
    },

    async capture(request) {
      try {
        return outcomeFromOperation(await acquirer.capture({ ...toOrderRef(request), amountToCapture: request.amountToCapture }));
      } catch (error) {
        return unknownOperation(error);
      }
    },

    async cancel(order) {
      try {
        return outcomeFromOperation(await acquirer.void(toOrderRef(order)));
      } catch (error) {
        return unknownOperation(error);
      }
    },

    async refund(request) {
      try {
        return outcomeFromOperation(
          await acquirer.refund({ ...toOrderRef(request), refundNo: request.refundNo, refundAmount: request.refundAmount }),
        );
      } catch (error) {
        return unknownOperation(error);
      }
    },
  };
}
