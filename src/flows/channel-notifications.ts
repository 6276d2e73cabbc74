/**
 * Asynchronous notifications from channels (Alipay's notify_url, WeChat Pay's notify_url, UnionPay's
 * backUrl): verify → store raw under the provider's own id → acknowledge exactly as the provider expects
 * → process in the background. Storing before acknowledging means an acknowledged notification is never
 * lost; the unique key means a retried, duplicated or replayed notification is processed once; the
 * processing itself is idempotent (a final attempt or refund is left alone) and checks amount and
 * currency against the attempt, so an out-of-order or forged-amount notification changes nothing.
 */
import { newId } from '../kernel/index.ts';
import type { ChannelOutcome, HttpReply, InboundHttp, OperationOutcome } from '../channels/channel.ts';
import { getAttemptByOrderNo } from '../payments/index.ts';
import type { Services } from './services.ts';
import { applyChannelOutcome } from './sync-attempt.ts';
import { applyRefundOutcome } from './create-refund.ts';
import { channelForNotification } from './channel-accounts.ts';

const notFound: HttpReply = { status: 404, contentType: 'text/plain; charset=utf-8', body: 'no such channel' };
const tryLater: HttpReply = { status: 500, contentType: 'text/plain; charset=utf-8', body: 'fail' };

/** JSON cannot hold bigint: amounts are stored as strings and revived when processed. */
function encodeOutcome(outcome: ChannelOutcome | OperationOutcome): Record<string, unknown> {
  return JSON.parse(JSON.stringify(outcome, (_key, value: unknown) => (typeof value === 'bigint' ? { bigint: value.toString() } : value))) as Record<string, unknown>;
}

function decodeOutcome<T>(stored: unknown): T {
  return JSON.parse(JSON.stringify(stored), (_key, value: unknown) =>
    value !== null && typeof value === 'object' && 'bigint' in value && Object.keys(value).length === 1 ? BigInt((value as { bigint: string }).bigint) : value,
  ) as T;
}

export async function receiveChannelNotification(services: Services, target: { channel: string; accountId: string | undefined }, request: InboundHttp): Promise<HttpReply> {
  const channelId = target.channel;
  const channel = await channelForNotification(services, channelId, target.accountId);
  if (!channel?.parseNotification) return notFound;
  let verified;
  try {
    verified = await channel.parseNotification(request);
  } catch (error) {
    services.logger.error({ err: error, channel: channelId }, 'notification could not be parsed; the channel will retry');
    return tryLater;
  }
  if (!verified.ok) {
    services.logger.warn({ channel: channelId, reason: verified.reason }, 'notification refused: it did not verify');
    services.metrics.notificationReceived({ channel: channelId, outcome: 'refused' });
    return verified.reply;
  }
  const n = verified.notification;
  const now = services.now();
  const headers = Object.fromEntries(Object.entries(request.headers).filter((e): e is [string, string] => e[1] !== undefined));
  const stored = await services.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('channel_notifications')
      .values({
        id: newId('channelNotification'),
        channel: channelId,
        notification_id: n.notificationId,
        kind: n.kind,
        order_no: n.orderNo,
        refund_no: n.kind === 'refund' ? n.refundNo : null,
        outcome: encodeOutcome(n.outcome),
        raw_body: request.rawBody.toString('utf8'),
        headers,
        status: 'received',
        received_at: now,
      })
      .onConflict((oc) => oc.columns(['channel', 'notification_id']).doUpdateSet((eb) => ({ received_count: eb('channel_notifications.received_count', '+', 1) })))
      .returning(['id', 'received_count'])
      .executeTakeFirstOrThrow();
    if (row.received_count === 1) await services.enqueueInTransaction(trx, [{ task: 'process_channel_notification', payload: { id: row.id }, jobKey: `chn:${row.id}` }]);
    return row;
  });
  services.metrics.notificationReceived({ channel: channelId, outcome: stored.received_count === 1 ? 'stored' : 'duplicate' });
  return verified.ack;
}

/** The `process_channel_notification` job. */
export async function processChannelNotification(services: Services, id: string): Promise<string> {
  const row = await services.db.selectFrom('channel_notifications').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || row.status !== 'received') return 'already processed';
  let result: string;
  if (row.kind === 'payment') {
    const attempt = await getAttemptByOrderNo(services.db, row.channel, row.order_no);
    result = attempt ? await applyChannelOutcome(services, attempt.id, decodeOutcome<ChannelOutcome>(row.outcome)) : 'unknown order';
  } else {
    const attempt = await getAttemptByOrderNo(services.db, row.channel, row.order_no);
    const refundId = `re_${row.refund_no ?? ''}`;
    const refund = await services.db.selectFrom('refunds').select(['id', 'attempt_id']).where('id', '=', refundId).executeTakeFirst();
    result = attempt && refund && refund.attempt_id === attempt.id ? await applyRefundOutcome(services, refundId, decodeOutcome<OperationOutcome>(row.outcome)) : 'unknown refund';
  }
  const status = result === 'final' || result === 'settled' ? 'processed' : result === 'still_unknown' ? 'processed' : 'ignored';
  await services.db.updateTable('channel_notifications').set({ status, result, processed_at: services.now() }).where('id', '=', id).where('status', '=', 'received').execute();
  return result;
}

/** Stored notifications whose job never ran (the sweeper's backstop). */
export async function unprocessedNotifications(services: Services, options: { receivedBefore: Date; limit: number }): Promise<string[]> {
  const rows = await services.db
    .selectFrom('channel_notifications')
    .select('id')
    .where('status', '=', 'received')
    .where('received_at', '<', options.receivedBefore)
    .orderBy('received_at')
    .limit(options.limit)
    .execute();
  return rows.map((r) => r.id);
}
