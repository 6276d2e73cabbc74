/** The URL normalized, when it is an absolute http(s) URL; undefined for anything else (javascript:, relative, garbage). */
export function httpUrlOrUndefined(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.toString() : undefined;
  } catch {
    return undefined;
  }
}
