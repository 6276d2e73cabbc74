import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.ts';

const key = Buffer.alloc(32, 1).toString('base64');

describe('configuration', () => {
  it('lists every variable it reads in .env.example', () => {
    const source = readFileSync(new URL('./index.ts', import.meta.url), 'utf8');
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const read = new Set([...source.matchAll(/(?:env\.|\(')([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!).filter((name) => name !== 'NODE_ENV'));
    expect(read.size).toBeGreaterThan(15);
    for (const name of read) expect(example, `${name} missing from .env.example`).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
  });

  it('reports every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', FENPAY_ROLES: 'api,cron', LOG_LEVEL: 'loud', VAULT_KEYS: 'k:short', CHANNEL_FEE_BPS: 'card=99999' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'FENPAY_ROLES', 'LOG_LEVEL', 'VAULT_KEYS', 'CHANNEL_FEE_BPS']) expect(problems).toContain(name);
  });

  it('has no default secrets or embedded database in production', () => {
    expect(() => loadConfig({ FENPAY_ENV: 'production' })).toThrow(/DATABASE_URL is required[\s\S]*VAULT_KEYS is required/);
    const config = loadConfig({ FENPAY_ENV: 'production', DATABASE_URL: 'postgres://db/fenpay', VAULT_KEYS: `k1:${key}` });
    expect(config.seedDemo).toBe(false);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('never prints vault keys', () => {
    const config = loadConfig({ FENPAY_ENV: 'production', DATABASE_URL: 'postgres://db/fenpay', VAULT_KEYS: `k1:${key}` });
    expect(JSON.stringify([...config.vaultKeys.values()])).not.toContain(key);
  });
});
