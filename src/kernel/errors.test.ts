import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError, errorCatalogue } from './errors.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map(
  [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| `([a-z_]+)` \| (.+) \|$/gm)].map((m) => [m[1]!, { status: Number(m[2]), type: m[3]!, description: m[4]! }]),
);

describe('the error catalogue', () => {
  it('documents every code with the status and type the API returns', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      expect(documented.get(code), `docs/errors.md lacks ${code}`).toEqual({ status: entry.status, type: entry.type, description: entry.description });
    }
  });

  it('documents no code the API cannot return', () => {
    for (const code of documented.keys()) expect(Object.hasOwn(errorCatalogue, code), `${code} is documented but not in the catalogue`).toBe(true);
  });

  it('uses only 4xx statuses for expected failures and 5xx for platform failures', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      if (entry.type === 'api_error') expect(entry.status).toBeGreaterThanOrEqual(500);
      else expect(entry.status, code).toBeLessThan(500);
    }
  });

  it('renders Stripe-shaped public errors with param and decline code', () => {
    const error = new AppError('card_declined', { param: 'payment_method', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' });
    expect(error.status).toBe(402);
    expect(error.toPublic('req_1')).toEqual({
      error: { type: 'card_error', code: 'card_declined', message: 'Your card has insufficient funds.', param: 'payment_method', decline_code: 'insufficient_funds', request_log_url: null, request_id: 'req_1' },
    });
  });
});
