/** Every tenant-owned read and write is scoped by merchant and mode; another merchant's object does not exist. */
export interface Tenant {
  readonly merchantId: string;
  readonly livemode: boolean;
}

/** Stripe's list parameters after validation. */
export interface ListParams {
  readonly limit: number;
  readonly startingAfter: string | undefined;
  readonly endingBefore: string | undefined;
  readonly created: CreatedFilter | undefined;
}

export interface CreatedFilter {
  readonly gt?: number;
  readonly gte?: number;
  readonly lt?: number;
  readonly lte?: number;
}

export interface Page<T> {
  readonly data: T[];
  readonly hasMore: boolean;
}

/** JSON has no bigint: amounts leave as numbers, after checking they are exact. */
export function toJsonAmount(value: bigint): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError('amount outside the exact integer range of JSON numbers');
  return n;
}
