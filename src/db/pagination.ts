/**
 * Stripe's cursor pagination over (created_at DESC, id DESC): `starting_after` walks to older objects,
 * `ending_before` to newer ones, `limit` + 1 rows tell `has_more`.
 */
import { sql, type SelectQueryBuilder } from 'kysely';
import { AppError, type ListParams, type Page } from '../kernel/index.ts';

export interface Cursor {
  readonly created_at: Date;
  readonly id: string;
}

export async function paginate<DB, TB extends keyof DB, R extends Cursor>(options: {
  query: SelectQueryBuilder<DB, TB, R>;
  /** Table alias whose created_at and id order the list. */
  table: string;
  params: ListParams;
  findCursor: (id: string) => Promise<Cursor | undefined>;
}): Promise<Page<R>> {
  const { params, table } = options;
  const createdAt = sql.ref(`${table}.created_at`);
  const id = sql.ref(`${table}.id`);
  let query = options.query;
  if (params.created) {
    const { gt, gte, lt, lte } = params.created;
    if (gt !== undefined) query = query.where(sql<boolean>`${createdAt} >= to_timestamp(${gt + 1})`);
    if (gte !== undefined) query = query.where(sql<boolean>`${createdAt} >= to_timestamp(${gte})`);
    if (lt !== undefined) query = query.where(sql<boolean>`${createdAt} < to_timestamp(${lt})`);
    if (lte !== undefined) query = query.where(sql<boolean>`${createdAt} < to_timestamp(${lte + 1})`);
  }
  const take = params.limit + 1;
  if (params.endingBefore !== undefined) {
    const cursor = await options.findCursor(params.endingBefore);
    if (!cursor) throw new AppError('resource_missing', { param: 'ending_before', message: `No such object: '${params.endingBefore}'` });
    const rows = await query
      .where(sql<boolean>`(${createdAt}, ${id}) > (${cursor.created_at}, ${cursor.id})`)
      .orderBy(sql`${createdAt} ASC, ${id} ASC`)
      .limit(take)
      .execute();
    const hasMore = rows.length > params.limit;
    return { data: rows.slice(0, params.limit).reverse(), hasMore };
  }
  if (params.startingAfter !== undefined) {
    const cursor = await options.findCursor(params.startingAfter);
    if (!cursor) throw new AppError('resource_missing', { param: 'starting_after', message: `No such object: '${params.startingAfter}'` });
    query = query.where(sql<boolean>`(${createdAt}, ${id}) < (${cursor.created_at}, ${cursor.id})`);
  }
  const rows = await query.orderBy(sql`${createdAt} DESC, ${id} DESC`).limit(take).execute();
  return { data: rows.slice(0, params.limit), hasMore: rows.length > params.limit };
}
