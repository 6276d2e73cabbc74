/**
 * ACP's wire formats. Requests and notifications are ordinary `application/x-www-form-urlencoded`
 * bodies. Synchronous answers are NOT url-encoded: they are raw `k=v&k=v` text (the SDKs'
 * `convertResultStringToMap`), in which a value that contains `&` is wrapped in `{…}`; a PEM value
 * carries its newlines, `+`, `/` and `=` as they are.
 */

export type AcpFields = Readonly<Record<string, string>>;

export function encodeForm(fields: AcpFields): string {
  return new URLSearchParams(Object.entries(fields)).toString();
}

/** Parses a url-encoded body; a key sent twice is a malformed message, not a choice. */
export function decodeForm(body: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    if (Object.hasOwn(out, key)) return undefined;
    out[key] = value;
  }
  return out;
}

/** Parses a synchronous ACP answer: split on `&` outside braces, key up to the first `=`. */
export function parseAnswer(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let depth = 0;
  let start = 0;
  const pairs: string[] = [];
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '{') depth += 1;
    else if (c === '}') depth = Math.max(0, depth - 1);
    else if (c === '&' && depth === 0) {
      pairs.push(text.slice(start, i));
      start = i + 1;
    }
  }
  pairs.push(text.slice(start));
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    const key = pair.slice(0, eq);
    if (Object.hasOwn(out, key)) return undefined;
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

const beijingOffsetMs = 8 * 60 * 60 * 1000;

/** `yyyyMMddHHmmss` in Beijing time (UTC+8, no daylight saving), as ACP's txnTime and payTimeout want. */
export function beijingTimestamp(date: Date): string {
  const d = new Date(date.getTime() + beijingOffsetMs);
  const pad = (n: number, width = 2) => n.toString().padStart(width, '0');
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

export const txnTimePattern = /^\d{14}$/;

/** The inverse of beijingTimestamp; undefined for anything that is not a real moment. */
export function parseBeijingTimestamp(value: string): Date | undefined {
  if (!txnTimePattern.test(value)) return undefined;
  const n = (from: number, to: number) => Number(value.slice(from, to));
  const ms = Date.UTC(n(0, 4), n(4, 6) - 1, n(6, 8), n(8, 10), n(10, 12), n(12, 14)) - beijingOffsetMs;
  const date = new Date(ms);
  return beijingTimestamp(date) === value ? date : undefined;
}

/** ACP amounts are integer fen with no sign and no leading zeros ("1", "1999"). */
export function formatFen(amount: bigint): string {
  if (amount <= 0n) throw new RangeError('an ACP amount must be positive');
  return amount.toString(10);
}

export function parseFen(value: string | undefined): bigint | undefined {
  if (value === undefined || !/^(0|[1-9]\d{0,11})$/.test(value)) return undefined;
  return BigInt(value);
}

/** ACP orderId: 8–40 letters and digits (no `-` or `_`). */
export const orderIdPattern = /^[0-9A-Za-z]{8,40}$/;
