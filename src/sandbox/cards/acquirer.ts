/**
 * The sandbox card acquirer: an emulator of an external card acquirer, with its own tables. Fenpay's
 * channel adapter talks to it as it would to a real acquirer's SDK; nothing else in Fenpay reads its
 * state. It never stores a card number: only brand and last four digits, for the challenge page.
 */
import { createHash } from 'node:crypto';
import type { Selectable, Updateable } from 'kysely';
import type { Db } from '../../db/index.ts';
import { assert, detectBrand, normalizeCardNumber, randomToken } from '../../kernel/index.ts';
import { scenarioFor } from './scenarios.ts';
import type { SandboxCardOrdersTable, SandboxCardTables } from './tables.ts';
import {
  sandboxDeclineReasons,
  SandboxCardTimeoutError,
  type SandboxCardAnswer,
  type SandboxCardAuthorizeRequest,
  type SandboxCardCaptureRequest,
  type SandboxCardOperationAnswer,
  type SandboxCardOrderRef,
  type SandboxCardRefundRequest,
  type SandboxDeclineReason,
} from './wire.ts';

export interface SandboxCardAcquirerOptions {
  readonly db: Db;
  /** Fenpay's public base URL; the 3-D Secure page lives at `${publicUrl}/sandbox/cards/3ds/<reference>`. */
  readonly publicUrl: string;
  /** How long the "answer never comes" card stays pending before `query` reports its outcome. */
  readonly settleDelaySeconds: number;
  readonly now?: () => Date;
  /**
   * Called (and awaited) once when the payer finishes a 3-D Secure challenge, before they are sent
   * back: Fenpay syncs the attempt here, so the return page already sees the outcome.
   */
  readonly onChallengeCompleted?: (orderNo: string) => Promise<void>;
}

/** What the 3-D Secure page shows. No merchant, no card number: amount, currency, brand, last four. */
export interface SandboxChallengeView {
  readonly orderNo: string;
  readonly reference: string;
  /** `pending`: waiting for the payer; `completed`: answered on the page; `closed`: voided before any answer. */
  readonly state: 'pending' | 'completed' | 'closed';
  /** How a completed challenge ended. */
  readonly outcome: 'approved' | 'declined' | 'authentication_failed' | undefined;
  readonly amount: bigint;
  readonly currency: string;
  readonly cardBrand: string | undefined;
  readonly cardLast4: string | undefined;
  readonly returnUrl: string | undefined;
}

export type SandboxChallengeCompletion =
  | { readonly found: false }
  | {
      readonly found: true;
      /** False when the challenge was already answered (or closed): a second answer changes nothing. */
      readonly changed: boolean;
      readonly orderNo: string;
      readonly returnUrl: string | undefined;
      /** Set when `onChallengeCompleted` threw; the result is recorded regardless. */
      readonly callbackFailure: { readonly error: unknown } | undefined;
    };

export interface SandboxCardAcquirer {
  /**
   * Answers at once for most cards (writing nothing), remembers 3-D Secure challenges, and for the
   * "answer never comes" card remembers an approval and rejects with SandboxCardTimeoutError.
   */
  authorize(request: SandboxCardAuthorizeRequest): Promise<SandboxCardAnswer>;
  /** What became of an order, by order number. */
  query(order: SandboxCardOrderRef): Promise<SandboxCardAnswer>;
  /** Captures up to the authorized amount, once. */
  capture(request: SandboxCardCaptureRequest): Promise<SandboxCardOperationAnswer>;
  /** Releases an authorization, closes a pending challenge, or reverses an unanswered authorization. */
  void(order: SandboxCardOrderRef): Promise<SandboxCardOperationAnswer>;
  /** Refunds part or all of what was captured; idempotent per refund number. */
  refund(request: SandboxCardRefundRequest): Promise<SandboxCardOperationAnswer>;
  /** The challenge behind a 3-D Secure page, or undefined for an unknown reference. */
  challenge(reference: string): Promise<SandboxChallengeView | undefined>;
  /** Records the payer's answer on the 3-D Secure page and tells Fenpay (`onChallengeCompleted`). */
  completeChallenge(input: { reference: string; result: 'approve' | 'fail' }): Promise<SandboxChallengeCompletion>;
  challengeUrl(reference: string): string;
}

type OrderRow = Selectable<SandboxCardOrdersTable>;
type OrderChange = Updateable<SandboxCardOrdersTable>;
type Rejection = { readonly reason: string; readonly message: string };

/** Response texts in the style of ISO 8583 acquirer answers (the adapter uses its own, Stripe-style). */
const declineMessages: Record<SandboxDeclineReason, string> = {
  generic_decline: 'Do not honor',
  insufficient_funds: 'Insufficient funds',
  lost_card: 'Lost card, pick up',
  stolen_card: 'Stolen card, pick up',
  expired_card: 'Expired card',
  incorrect_cvc: 'Security code mismatch',
  processing_error: 'System malfunction',
  incorrect_number: 'Invalid card number',
  invalid_expiry_month: 'Invalid expiry date',
  invalid_expiry_year: 'Invalid expiry date',
  authentication_failed: 'Cardholder authentication failed',
};

/** What the acquirer answered at once, with no row: encoded in the reference it hands out. */
type ImmediateOutcome = 'captured' | 'authorized' | `declined:${SandboxDeclineReason}`;
const immediateOutcomes: readonly ImmediateOutcome[] = ['captured', 'authorized', ...sandboxDeclineReasons.map((r) => `declined:${r}` as const)];

const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const referencePattern = /^sca_[0-9A-Za-z]{24}$/;

/**
 * The reference of an order answered at once is a digest of the order and its outcome, so later calls
 * that carry it (query, capture, refund) show the acquirer what it answered without a row. A sandbox
 * needs no secret here: the digest only has to make references unforgeable by accident.
 */
function immediateReference(order: { orderNo: string; amount: bigint; currency: string }, outcome: ImmediateOutcome): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(['fenpay.sandbox.card.v1', order.orderNo, order.amount.toString(), order.currency, outcome]))
    .digest();
  let value = BigInt(`0x${digest.toString('hex')}`);
  let out = 'sca_';
  for (let i = 0; i < 24; i++) {
    out += base62[Number(value % 62n)];
    value /= 62n;
  }
  return out;
}

function recognise(order: SandboxCardOrderRef): ImmediateOutcome | undefined {
  if (order.reference === undefined || !referencePattern.test(order.reference)) return undefined;
  return immediateOutcomes.find((outcome) => immediateReference(order, outcome) === order.reference);
}

function declineReasonOf(outcome: ImmediateOutcome): SandboxDeclineReason | undefined {
  return outcome.startsWith('declined:') ? (outcome.slice('declined:'.length) as SandboxDeclineReason) : undefined;
}

function notFound(orderNo: string): SandboxCardAnswer {
  return {
    orderNo,
    reference: undefined,
    status: 'not_found',
    amount: undefined,
    currency: undefined,
    amountCaptured: 0n,
    amountRefunded: 0n,
    declineReason: undefined,
    message: 'No such order',
    challengeUrl: undefined,
  };
}

/** The order's outcome is decided but, for the "answer never comes" card, not reported before it settles. */
function isUnsettled(row: OrderRow, at: Date): boolean {
  return row.settles_at !== null && at < row.settles_at && (row.status === 'authorized' || row.status === 'captured');
}

function rejected(reason: string, message: string): SandboxCardOperationAnswer {
  return { result: 'rejected', reference: undefined, reason, message };
}

function accepted(reference: string, message: string): SandboxCardOperationAnswer {
  return { result: 'accepted', reference, reason: undefined, message };
}

export function createSandboxCardAcquirer(options: SandboxCardAcquirerOptions): SandboxCardAcquirer {
  assert(Number.isFinite(options.settleDelaySeconds) && options.settleDelaySeconds >= 0, 'settleDelaySeconds must be a non-negative number');
  // Fenpay's handle, widened to see the emulator's own tables (and used for nothing else).
  const db = options.db.withTables<SandboxCardTables>();
  const now = options.now ?? (() => new Date());
  const publicUrl = options.publicUrl.replace(/\/+$/, '');

  function challengeUrl(reference: string): string {
    return `${publicUrl}/sandbox/cards/3ds/${encodeURIComponent(reference)}`;
  }

  function immediateAnswer(order: { orderNo: string; amount: bigint; currency: string }, outcome: ImmediateOutcome): SandboxCardAnswer {
    const declineReason = declineReasonOf(outcome);
    return {
      orderNo: order.orderNo,
      reference: immediateReference(order, outcome),
      status: declineReason === undefined ? outcome : 'declined',
      amount: order.amount,
      currency: order.currency,
      amountCaptured: outcome === 'captured' ? order.amount : 0n,
      amountRefunded: 0n,
      declineReason,
      message: declineReason === undefined ? 'Approved' : declineMessages[declineReason],
      challengeUrl: undefined,
    };
  }

  function answerFromRow(row: OrderRow, at: Date): SandboxCardAnswer {
    const unsettled = isUnsettled(row, at);
    const status = unsettled ? 'pending' : row.status === 'challenge_pending' ? 'challenge_required' : row.status;
    const declineReason = row.status === 'declined' ? (row.decline_reason ?? 'generic_decline') : undefined;
    return {
      orderNo: row.order_no,
      reference: row.reference,
      status,
      amount: row.amount,
      currency: row.currency,
      // Nothing about an unsettled order leaks before it settles.
      amountCaptured: unsettled ? 0n : row.amount_captured,
      amountRefunded: row.amount_refunded,
      declineReason,
      message:
        declineReason !== undefined
          ? (declineMessages[declineReason as SandboxDeclineReason] ?? 'Declined')
          : status === 'challenge_required'
            ? 'Cardholder authentication required'
            : status === 'pending'
              ? 'In progress'
              : 'Approved',
      challengeUrl: status === 'challenge_required' ? challengeUrl(row.reference) : undefined,
    };
  }

  /** Keeps a trade that needs memory. A repeated order number finds the first one (idempotent). */
  async function remember(
    request: SandboxCardAuthorizeRequest,
    digits: string,
    fields: Pick<OrderRow, 'status' | 'after_challenge' | 'amount_captured' | 'settles_at'>,
  ): Promise<OrderRow> {
    const inserted = await db
      .insertInto('sandbox_card_orders')
      .values({
        order_no: request.orderNo,
        reference: `sca_${randomToken(24)}`,
        capture_mode: request.captureMode,
        amount: request.amount,
        currency: request.currency,
        card_brand: detectBrand(digits),
        card_last4: digits.slice(-4),
        return_url: request.returnUrl ?? null,
        decline_reason: null,
        challenge_completed_at: null,
        created_at: now(),
        updated_at: now(),
        ...fields,
      })
      .onConflict((oc) => oc.column('order_no').doNothing())
      .returningAll()
      .executeTakeFirst();
    return inserted ?? (await db.selectFrom('sandbox_card_orders').selectAll().where('order_no', '=', request.orderNo).executeTakeFirstOrThrow());
  }

  /**
   * One capture, void or refund, in one database transaction with the order row locked. An order the
   * acquirer answered at once gets its row here, from the outcome its reference encodes.
   */
  async function operate(
    order: SandboxCardOrderRef,
    operation: { kind: 'capture' | 'void' | 'refund'; requestNo: string; amount: bigint; prefix: string },
    decide: (row: OrderRow, at: Date) => OrderChange | Rejection,
  ): Promise<SandboxCardOperationAnswer> {
    return await db.transaction().execute(async (trx) => {
      const lock = () => trx.selectFrom('sandbox_card_orders').selectAll().where('order_no', '=', order.orderNo).forUpdate().executeTakeFirst();
      let row = await lock();
      if (row === undefined) {
        const outcome = recognise(order);
        if (outcome === undefined) return rejected('order_not_found', 'No such order.');
        if (declineReasonOf(outcome) !== undefined) return rejected('invalid_state', 'The authorization was declined.');
        await trx
          .insertInto('sandbox_card_orders')
          .values({
            order_no: order.orderNo,
            reference: order.reference!,
            status: outcome === 'captured' ? 'captured' : 'authorized',
            after_challenge: null,
            capture_mode: outcome === 'captured' ? 'automatic' : 'manual',
            amount: order.amount,
            currency: order.currency,
            amount_captured: outcome === 'captured' ? order.amount : 0n,
            card_brand: null,
            card_last4: null,
            return_url: null,
            decline_reason: null,
            settles_at: null,
            challenge_completed_at: null,
            created_at: now(),
            updated_at: now(),
          })
          .onConflict((oc) => oc.column('order_no').doNothing())
          .execute();
        row = await lock();
        assert(row !== undefined, 'the order row was just inserted');
      }
      // Follow-ups name the original amount and currency; a mismatch is the caller's mistake, caught here.
      if (row.amount !== order.amount || row.currency !== order.currency) {
        return rejected('order_mismatch', 'The amount or currency does not match the original authorization.');
      }
      const previous = await trx
        .selectFrom('sandbox_card_operations')
        .select(['reference', 'amount'])
        .where('order_no', '=', order.orderNo)
        .where('kind', '=', operation.kind)
        .where('request_no', '=', operation.requestNo)
        .executeTakeFirst();
      if (previous !== undefined) {
        // A retry of an operation already done answers as the first time did.
        return previous.amount === operation.amount
          ? accepted(previous.reference, 'Already done.')
          : rejected('invalid_state', `A ${operation.kind} with a different amount was already made for this order.`);
      }
      const at = now();
      const decision = decide(row, at);
      if ('reason' in decision) return rejected(decision.reason, decision.message);
      await trx.updateTable('sandbox_card_orders').set({ ...decision, updated_at: at }).where('order_no', '=', order.orderNo).execute();
      const reference = `${operation.prefix}_${randomToken(24)}`;
      await trx
        .insertInto('sandbox_card_operations')
        .values({ reference, order_no: order.orderNo, kind: operation.kind, request_no: operation.requestNo, amount: operation.amount, created_at: at })
        .execute();
      return accepted(reference, 'Approved');
    });
  }

  const stillPending: Rejection = { reason: 'invalid_state', message: 'The authorization is still being processed.' };

  return {
    challengeUrl,

    async authorize(request) {
      assert(request.amount > 0n, 'the amount to authorize must be positive');
      const digits = normalizeCardNumber(request.card.number.reveal());
      const scenario = scenarioFor({ digits, expMonth: request.card.expMonth, expYear: request.card.expYear }, now());
      switch (scenario.kind) {
        case 'approve':
          return immediateAnswer(request, request.captureMode === 'automatic' ? 'captured' : 'authorized');
        case 'decline':
          return immediateAnswer(request, `declined:${scenario.reason}`);
        case 'challenge': {
          assert(digits !== undefined, 'a challenge scenario has a valid number');
          const row = await remember(request, digits, { status: 'challenge_pending', after_challenge: scenario.afterChallenge, amount_captured: 0n, settles_at: null });
          return answerFromRow(row, now());
        }
        case 'no_answer': {
          assert(digits !== undefined, 'the no-answer scenario has a valid number');
          // Approved at the acquirer; only the answer is lost on the way back.
          const automatic = request.captureMode === 'automatic';
          await remember(request, digits, {
            status: automatic ? 'captured' : 'authorized',
            after_challenge: null,
            amount_captured: automatic ? request.amount : 0n,
            settles_at: new Date(now().getTime() + options.settleDelaySeconds * 1000),
          });
          throw new SandboxCardTimeoutError(request.orderNo);
        }
      }
    },

    async query(order) {
      const row = await db.selectFrom('sandbox_card_orders').selectAll().where('order_no', '=', order.orderNo).executeTakeFirst();
      if (row !== undefined) return answerFromRow(row, now());
      const outcome = recognise(order);
      return outcome === undefined ? notFound(order.orderNo) : immediateAnswer(order, outcome);
    },

    async capture(request) {
      return await operate(request, { kind: 'capture', requestNo: 'capture', amount: request.amountToCapture, prefix: 'scc' }, (row, at) => {
        if (isUnsettled(row, at)) return stillPending;
        if (row.status !== 'authorized') return { reason: 'invalid_state', message: `Only an authorized order can be captured; this one is ${row.status}.` };
        if (request.amountToCapture <= 0n) return { reason: 'amount_invalid', message: 'The amount to capture must be positive.' };
        if (request.amountToCapture > row.amount) return { reason: 'amount_exceeds_authorized', message: 'The amount to capture exceeds the authorized amount.' };
        return { status: 'captured', amount_captured: request.amountToCapture };
      });
    },

    async void(order) {
      return await operate(order, { kind: 'void', requestNo: 'void', amount: 0n, prefix: 'scv' }, (row, at) => {
        // An unanswered authorization can be reversed even though it was approved (a timeout reversal).
        if (row.status === 'authorized' || row.status === 'challenge_pending' || isUnsettled(row, at)) {
          return { status: 'voided', amount_captured: 0n };
        }
        return { reason: 'invalid_state', message: `A ${row.status} order cannot be voided${row.status === 'captured' ? '; refund it instead' : ''}.` };
      });
    },

    async refund(request) {
      return await operate(request, { kind: 'refund', requestNo: request.refundNo, amount: request.refundAmount, prefix: 'scr' }, (row, at) => {
        if (isUnsettled(row, at)) return stillPending;
        if (row.status !== 'captured') return { reason: 'invalid_state', message: `Only a captured order can be refunded; this one is ${row.status}.` };
        if (request.refundAmount <= 0n) return { reason: 'amount_invalid', message: 'The refund amount must be positive.' };
        if (row.amount_refunded + request.refundAmount > row.amount_captured) {
          return { reason: 'amount_exceeds_captured', message: 'The refund exceeds the captured amount not yet refunded.' };
        }
        return { amount_refunded: row.amount_refunded + request.refundAmount };
      });
    },

    async challenge(reference) {
      const row = await db.selectFrom('sandbox_card_orders').selectAll().where('reference', '=', reference).executeTakeFirst();
      // Only challenge orders have a page; after_challenge is set on exactly those.
      if (row === undefined || row.after_challenge === null) return undefined;
      const state = row.status === 'challenge_pending' ? 'pending' : row.challenge_completed_at !== null ? 'completed' : 'closed';
      return {
        orderNo: row.order_no,
        reference: row.reference,
        state,
        outcome:
          state !== 'completed'
            ? undefined
            : row.decline_reason === 'authentication_failed'
              ? 'authentication_failed'
              : row.decline_reason !== null
                ? 'declined'
                : 'approved',
        amount: row.amount,
        currency: row.currency,
        cardBrand: row.card_brand ?? undefined,
        cardLast4: row.card_last4 ?? undefined,
        returnUrl: row.return_url ?? undefined,
      };
    },

    async completeChallenge({ reference, result }) {
      const done = await db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('sandbox_card_orders').selectAll().where('reference', '=', reference).forUpdate().executeTakeFirst();
        if (row === undefined || row.after_challenge === null) return undefined;
        // Answered already, or voided meanwhile: a second answer changes nothing.
        if (row.status !== 'challenge_pending') return { row, changed: false };
        const at = now();
        let change: OrderChange;
        if (result === 'fail') change = { status: 'declined', decline_reason: 'authentication_failed' };
        else if (row.after_challenge === 'decline') change = { status: 'declined', decline_reason: 'generic_decline' };
        else if (row.capture_mode === 'automatic') change = { status: 'captured', amount_captured: row.amount };
        else change = { status: 'authorized' };
        await trx
          .updateTable('sandbox_card_orders')
          .set({ ...change, challenge_completed_at: at, updated_at: at })
          .where('order_no', '=', row.order_no)
          .execute();
        return { row, changed: true };
      });
      if (done === undefined) return { found: false };
      let callbackFailure: { error: unknown } | undefined;
      // After the commit, so Fenpay's query inside the callback sees the answer.
      if (done.changed && options.onChallengeCompleted) {
        try {
          await options.onChallengeCompleted(done.row.order_no);
        } catch (error) {
          callbackFailure = { error };
        }
      }
      return { found: true, changed: done.changed, orderNo: done.row.order_no, returnUrl: done.row.return_url ?? undefined, callbackFailure };
    },
  };
}
