/**
 * GBK encoding for the bill file. Node decodes GBK (WHATWG `TextDecoder('gbk')`) but cannot encode
 * it, and no iconv package is installed; so the encoder is the decoder run backwards over every
 * two-byte sequence once, on first use (about 24,000 pairs, a few milliseconds).
 */
let table: Map<number, number> | undefined;

function gbkTable(): Map<number, number> {
  if (table !== undefined) return table;
  const decoder = new TextDecoder('gbk');
  const map = new Map<number, number>();
  const pair = new Uint8Array(2);
  for (let lead = 0x81; lead <= 0xfe; lead += 1) {
    for (let trail = 0x40; trail <= 0xfe; trail += 1) {
      if (trail === 0x7f) continue;
      pair[0] = lead;
      pair[1] = trail;
      const text = decoder.decode(pair);
      const codePoint = text.codePointAt(0);
      if (codePoint === undefined || codePoint === 0xfffd || text.length !== 1) continue;
      if (!map.has(codePoint)) map.set(codePoint, (lead << 8) | trail);
    }
  }
  table = map;
  return map;
}

/** GBK bytes for `text`; a character GBK cannot hold becomes `?`, as Windows tools write it. */
export function encodeGbk(text: string): Buffer {
  const bytes: number[] = [];
  for (const char of text) {
    const codePoint = char.codePointAt(0) ?? 0x3f;
    if (codePoint < 0x80) {
      bytes.push(codePoint);
      continue;
    }
    const code = gbkTable().get(codePoint);
    if (code === undefined) bytes.push(0x3f);
    else bytes.push(code >> 8, code & 0xff);
  }
  return Buffer.from(bytes);
}

export function decodeGbk(bytes: Uint8Array): string {
  return new TextDecoder('gbk').decode(bytes);
}
