import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { luhnValid, detectBrand } from '../../kernel/index.ts';
import { sandboxTestCards, sandboxTimeoutCardNumber, scenarioFor } from './scenarios.ts';

const june2031 = new Date(Date.UTC(2031, 5, 15));
const card = (digits: string | undefined, expMonth = 12, expYear = 2033) => ({ digits, expMonth, expYear });

describe('scenarioFor', () => {
  it('approves any Luhn-valid number without a behaviour of its own', () => {
    expect(scenarioFor(card('4242424242424242'), june2031)).toEqual({ kind: 'approve' });
    expect(scenarioFor(card('6011000990139424'), june2031)).toEqual({ kind: 'approve' });
  });

  it('says incorrect_number before anything else for a number that is not one', () => {
    expect(scenarioFor(card('4242424242424241', 1, 2000), june2031)).toEqual({ kind: 'decline', reason: 'incorrect_number' });
    expect(scenarioFor(card(undefined), june2031)).toEqual({ kind: 'decline', reason: 'incorrect_number' });
  });

  it('checks the expiry before the test-card table', () => {
    expect(scenarioFor(card('4000002500003155', 5, 2031), june2031)).toEqual({ kind: 'decline', reason: 'expired_card' });
    expect(scenarioFor(card('4242424242424242', 6, 2031), june2031)).toEqual({ kind: 'approve' });
    expect(scenarioFor(card('4242424242424242', 12, 2030), june2031)).toEqual({ kind: 'decline', reason: 'expired_card' });
  });

  it('reads two-digit years as 20xx and refuses impossible expiries', () => {
    expect(scenarioFor(card('4242424242424242', 7, 31), june2031)).toEqual({ kind: 'approve' });
    expect(scenarioFor(card('4242424242424242', 5, 31), june2031)).toEqual({ kind: 'decline', reason: 'expired_card' });
    expect(scenarioFor(card('4242424242424242', 0), june2031)).toEqual({ kind: 'decline', reason: 'invalid_expiry_month' });
    expect(scenarioFor(card('4242424242424242', 1.5), june2031)).toEqual({ kind: 'decline', reason: 'invalid_expiry_month' });
    expect(scenarioFor(card('4242424242424242', 1, 2200), june2031)).toEqual({ kind: 'decline', reason: 'invalid_expiry_year' });
    expect(scenarioFor(card('4242424242424242', 1, 300), june2031)).toEqual({ kind: 'decline', reason: 'invalid_expiry_year' });
  });
});

describe('the test-card table', () => {
  it('holds only Luhn-valid 16-digit Visa numbers', () => {
    for (const number of sandboxTestCards.keys()) {
      expect(luhnValid(number), number).toBe(true);
      expect(number).toHaveLength(16);
      expect(detectBrand(number)).toBe('visa');
    }
  });

  it('gives the timeout card the no-answer behaviour', () => {
    expect(sandboxTestCards.get(sandboxTimeoutCardNumber)).toEqual({ kind: 'no_answer' });
  });

  it('is documented in docs/sandbox-cards.md, number by number', () => {
    const docs = readFileSync(new URL('../../../docs/sandbox-cards.md', import.meta.url), 'utf8').replace(/ /g, '');
    for (const number of [...sandboxTestCards.keys(), '4242424242424242', '5555555555554444', '378282246310005', '3566002020360505', '6200000000000005']) {
      expect(docs, number).toContain(number);
    }
  });
});
