/**
 * What routing reads on every payment (the merchant's accounts, their health, the strategy) is kept per
 * process for a second: a hot merchant's payments would otherwise re-read the same rows hundreds of times
 * a second. Anything that changes them in this process (an account or setting written, a health record)
 * clears it at once; a change made by another process takes effect within the second, far inside the
 * health window.
 */
import type { Services } from './services.ts';

const routingCache = new WeakMap<Services, Map<string, { at: number; value: Promise<unknown> }>>();
const routingCacheMs = 1_000;

export async function cached<T>(services: Services, key: string, load: () => Promise<T>): Promise<T> {
  let cache = routingCache.get(services);
  if (!cache) routingCache.set(services, (cache = new Map()));
  const now = Date.now();
  const hit = cache.get(key);
  if (hit && now - hit.at < routingCacheMs) return (await hit.value) as T;
  if (cache.size > 10_000) cache.clear();
  const value = load();
  cache.set(key, { at: now, value });
  try {
    return await value;
  } catch (error) {
    cache.delete(key);
    throw error;
  }
}

export function forgetRouting(services: Services): void {
  routingCache.get(services)?.clear();
}
