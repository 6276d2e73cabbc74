/** Request parameter helpers: schema fragments (for validation and OpenAPI) and checks schemas cannot express. */
import { AppError, amountMaxMinor, isSupportedCurrency, type CreatedFilter, type ListParams } from '../kernel/index.ts';

export const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_]+$' } },
} as const;

export const metadataSchema = {
  anyOf: [
    { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] }, description: 'Key-value pairs; a value of "" deletes that key.' },
    { type: 'string', maxLength: 0, description: 'An empty string clears all metadata.' },
  ],
} as const;

export const expandSchema = { type: 'array', items: { type: 'string', maxLength: 200 }, maxItems: 20, description: 'Accepted for compatibility; objects are returned unexpanded.' } as const;

export const listQuerySchema = {
  limit: { type: 'integer', description: 'A limit on the number of objects to be returned, between 1 and 100 (default 10).' },
  starting_after: { type: 'string', maxLength: 128 },
  ending_before: { type: 'string', maxLength: 128 },
  created: {
    anyOf: [
      { type: 'integer' },
      {
        type: 'object',
        additionalProperties: false,
        properties: { gt: { type: 'integer' }, gte: { type: 'integer' }, lt: { type: 'integer' }, lte: { type: 'integer' } },
      },
    ],
  },
  expand: expandSchema,
} as const;

export interface ListQuery {
  limit?: number;
  starting_after?: string;
  ending_before?: string;
  created?: number | CreatedFilter;
}

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range a `created` filter may name. */
const createdSecondsMin = -62_135_596_800;
const createdSecondsMax = 253_402_300_799;

export function parseListParams(query: ListQuery): ListParams {
  const limit = query.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new AppError('parameter_invalid_integer', { param: 'limit', message: 'Invalid limit: must be an integer between 1 and 100.' });
  }
  if (query.starting_after !== undefined && query.ending_before !== undefined) {
    throw new AppError('parameter_invalid', { param: 'ending_before', message: 'You may only specify one of starting_after and ending_before.' });
  }
  const created: CreatedFilter | undefined = typeof query.created === 'number' ? { gte: query.created, lte: query.created } : query.created;
  // Far outside years 1–9999 PostgreSQL's to_timestamp fails: refuse such bounds as invalid, not as a server error.
  for (const [bound, value] of Object.entries(created ?? {})) {
    if (typeof value === 'number' && (!Number.isSafeInteger(value) || value < createdSecondsMin || value > createdSecondsMax)) {
      const param = typeof query.created === 'number' ? 'created' : `created[${bound}]`;
      throw new AppError('parameter_invalid_integer', { param, message: `Invalid ${param}: must be a Unix timestamp in seconds from ${createdSecondsMin} to ${createdSecondsMax}.` });
    }
  }
  return { limit, startingAfter: query.starting_after, endingBefore: query.ending_before, created };
}

/** Amounts are positive integers in the currency's minor unit (cents, yen, fils). */
export function parseAmount(value: number | undefined, param = 'amount'): bigint | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value)) {
    if (Number.isInteger(value) && value > 0) throw new AppError('amount_too_large', { param, message: `Amount must be no more than ${amountMaxMinor}.` });
    throw new AppError('parameter_invalid_integer', { param, message: `Invalid integer: ${value}` });
  }
  if (value <= 0) throw new AppError('amount_must_be_positive', { param, message: 'This value must be greater than or equal to 1.' });
  const amount = BigInt(value);
  if (amount > amountMaxMinor) throw new AppError('amount_too_large', { param, message: `Amount must be no more than ${amountMaxMinor} in the currency's smallest unit.` });
  return amount;
}

export function requireAmount(value: number | undefined, param = 'amount'): bigint {
  const amount = parseAmount(value, param);
  if (amount === undefined) throw new AppError('parameter_missing', { param, message: `Missing required param: ${param}.` });
  return amount;
}

export function parseCurrency(value: string | undefined, param = 'currency'): string | undefined {
  if (value === undefined) return undefined;
  const code = value.toLowerCase();
  if (!isSupportedCurrency(code)) throw new AppError('currency_unsupported', { param, message: `Invalid currency: ${value}. Fenpay supports ISO 4217 codes such as usd, eur, cny, jpy, kwd.` });
  return code;
}

export function requireCurrency(value: string | undefined, param = 'currency'): string {
  const currency = parseCurrency(value, param);
  if (currency === undefined) throw new AppError('parameter_missing', { param, message: `Missing required param: ${param}.` });
  return currency;
}

/** Empty strings unset a field in Stripe's form encoding. */
export function nullable(value: string | undefined): string | null | undefined {
  if (value === undefined) return undefined;
  return value === '' ? null : value;
}

export function listResponse(url: string, data: readonly unknown[], hasMore: boolean): Record<string, unknown> {
  return { object: 'list', data, has_more: hasMore, url };
}
