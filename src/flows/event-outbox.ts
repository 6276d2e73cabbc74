/**
 * Reading the events outbox in commit order. Each reader (webhook dispatch, NATS publication) has a
 * cursor row; a round locks it (SKIP LOCKED: one reader of a name at a time, any number of processes),
 * reads the next events whose writing transactions are all finished, hands them to the reader inside
 * the same transaction, and advances the cursor only if the reader succeeded.
 *
 * Why transaction ids: events are written by many concurrent transactions, so neither ids nor
 * timestamps arrive in commit order; a reader that advanced past an event whose transaction was still
 * running would skip it for ever. Everything below pg_snapshot_xmin of the reader's snapshot is
 * finished, hence visible or rolled back (migration 0005).
 */
import { sql } from 'kysely';
import type { Tx } from '../db/index.ts';
import type { Services } from './services.ts';

export type OutboxReader = 'webhooks' | 'nats';

export interface OutboxEvent {
  readonly id: string;
  readonly merchant_id: string;
  readonly livemode: boolean;
  readonly type: string;
  readonly created_at: Date;
  readonly xid: string;
  readonly data: unknown;
  readonly request_id: string | null;
  readonly idempotency_key: string | null;
}

/** One round; undefined when another process holds this reader's cursor. */
export async function readOutbox(
  services: Services,
  reader: OutboxReader,
  /** `withData`: also read each event's snapshot (the NATS reader publishes it; dispatch does not need it). */
  options: { limit: number; withData: boolean },
  handle: (trx: Tx, events: readonly OutboxEvent[]) => Promise<void>,
): Promise<number | undefined> {
  return await services.db.transaction().execute(async (trx) => {
    const cursor = (await sql<{ xid: string; event_id: string }>`SELECT xid::text AS xid, event_id FROM event_cursors WHERE name = ${reader} FOR UPDATE SKIP LOCKED`.execute(trx)).rows[0];
    if (!cursor) return undefined;
    const events = (
      await sql<OutboxEvent>`
        SELECT id, merchant_id, livemode, type, created_at, xid::text AS xid, ${options.withData ? sql`data, request_id, idempotency_key` : sql`NULL AS data, NULL AS request_id, NULL AS idempotency_key`} FROM events
        WHERE (xid, id) > (${cursor.xid}::xid8, ${cursor.event_id}) AND xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY xid, id LIMIT ${options.limit}`.execute(trx)
    ).rows;
    const last = events.at(-1);
    if (last === undefined) return 0;
    await handle(trx, events);
    await sql`UPDATE event_cursors SET xid = ${last.xid}::xid8, event_id = ${last.id}, updated_at = now() WHERE name = ${reader}`.execute(trx);
    return events.length;
  });
}
