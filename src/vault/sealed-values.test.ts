import { describe, expect, it } from 'vitest';
import { Secret } from '../kernel/index.ts';
import { createVault, VaultIntegrityError } from './index.ts';

const k1 = new Secret(Buffer.alloc(32, 1));
const k2 = new Secret(Buffer.alloc(32, 2));
const binding = { purpose: 'webhook_secret', ownerId: 'whsk_1', merchantId: 'acct_1' };

describe('sealed values', () => {
  it('round-trips, and never shows the plaintext', () => {
    const vault = createVault({ keys: new Map([['k1', k1]]), activeKeyId: 'k1' });
    const sealed = vault.sealValue(new Secret('whsec_abc'), binding);
    expect(sealed).toMatch(/^v1\.k1\./);
    expect(sealed).not.toContain('whsec_abc');
    expect(vault.openValue(sealed, binding).reveal()).toBe('whsec_abc');
    // Fresh IV each time: sealing twice gives different strings.
    expect(vault.sealValue(new Secret('whsec_abc'), binding)).not.toBe(sealed);
  });

  it('does not open for another owner, merchant or purpose, nor when altered', () => {
    const vault = createVault({ keys: new Map([['k1', k1]]), activeKeyId: 'k1' });
    const sealed = vault.sealValue(new Secret('whsec_abc'), binding);
    expect(() => vault.openValue(sealed, { ...binding, ownerId: 'whsk_2' })).toThrow(VaultIntegrityError);
    expect(() => vault.openValue(sealed, { ...binding, merchantId: 'acct_2' })).toThrow(VaultIntegrityError);
    expect(() => vault.openValue(sealed, { ...binding, purpose: 'channel_credential' })).toThrow(VaultIntegrityError);
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => vault.openValue(parts.join('.'), binding)).toThrow(VaultIntegrityError);
    expect(() => vault.openValue('garbage', binding)).toThrow(VaultIntegrityError);
  });

  it('opens values under an older key and says they need resealing', () => {
    const old = createVault({ keys: new Map([['k1', k1]]), activeKeyId: 'k1' });
    const sealed = old.sealValue(new Secret('whsec_abc'), binding);
    const rotated = createVault({ keys: new Map([['k1', k1], ['k2', k2]]), activeKeyId: 'k2' });
    expect(rotated.needsReseal(sealed)).toBe(true);
    expect(rotated.openValue(sealed, binding).reveal()).toBe('whsec_abc');
    const resealed = rotated.sealValue(rotated.openValue(sealed, binding), binding);
    expect(rotated.needsReseal(resealed)).toBe(false);
    const withoutOld = createVault({ keys: new Map([['k2', k2]]), activeKeyId: 'k2' });
    expect(withoutOld.openValue(resealed, binding).reveal()).toBe('whsec_abc');
    expect(() => withoutOld.openValue(sealed, binding)).toThrow(/not configured/);
  });
});
