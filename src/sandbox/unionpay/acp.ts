/**
 * The emulator's side of ACP 5.1.0: signing and verifying with signMethod 01, form bodies, raw
 * `k=v&…` answers and Beijing timestamps. Written apart from the adapter on purpose: two
 * implementations that agree are evidence; one shared implementation would agree with itself.
 */
import { createHash, createSign, createVerify, type KeyObject } from 'node:crypto';

export type Fields = Record<string, string>;

export function acpSigningString(fields: Readonly<Fields>): string {
  return Object.entries(fields)
    .filter(([key, value]) => key !== 'signature' && value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

function digestHex(fields: Readonly<Fields>): string {
  return createHash('sha256').update(Buffer.from(acpSigningString(fields), 'utf8')).digest('hex');
}

export function acpSign(fields: Readonly<Fields>, key: KeyObject): string {
  const signer = createSign('SHA256');
  signer.update(digestHex(fields));
  return signer.sign(key).toString('base64');
}

export function acpVerify(fields: Readonly<Fields>, key: KeyObject): boolean {
  const signature = fields['signature'];
  if (signature === undefined || signature === '') return false;
  try {
    const verifier = createVerify('SHA256');
    verifier.update(digestHex(fields));
    return verifier.verify(key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** ACP's synchronous answer text: not url-encoded; a value containing `&` is wrapped in braces. */
export function acpAnswerText(fields: Readonly<Fields>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${value.includes('&') ? `{${value}}` : value}`)
    .join('&');
}

export function parseFormBody(body: string): Fields | undefined {
  const out: Fields = {};
  for (const [key, value] of new URLSearchParams(body)) {
    if (Object.hasOwn(out, key)) return undefined;
    out[key] = value;
  }
  return out;
}

const beijingOffsetMs = 8 * 60 * 60 * 1000;

export function beijingTime(date: Date): string {
  return new Date(date.getTime() + beijingOffsetMs).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export function fromBeijingTime(value: string): Date | undefined {
  if (!/^\d{14}$/.test(value)) return undefined;
  const iso = `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}T${value.slice(8, 10)}:${value.slice(10, 12)}:${value.slice(12, 14)}+08:00`;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) || beijingTime(date) !== value ? undefined : date;
}
