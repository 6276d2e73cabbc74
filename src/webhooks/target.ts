/**
 * Where a webhook may go. Server-side request forgery is the risk: a merchant (or whoever holds its
 * key) must not make Fenpay call the cloud metadata service, the database's host or anything else on
 * the operator's private network. Only globally routable unicast addresses are public; everything
 * ipaddr.js classifies otherwise (private, loopback, link-local, unique-local, carrier-grade NAT,
 * IPv4-mapped private, NAT64, 6to4, Teredo, reserved, multicast, unspecified) is refused.
 *
 * Checked twice: when an endpoint is saved (a clear 400), and on every connection (the resolved
 * addresses are filtered in the socket's DNS lookup, so a name that later resolves somewhere private
 * — DNS rebinding — is refused at send time too).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup as dnsLookupAsync } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export type TargetVerdict = { readonly ok: true; readonly url: URL } | { readonly ok: false; readonly reason: string };

export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address); // IPv4-mapped IPv6 becomes its IPv4 address
  return parsed.range() === 'unicast';
}

/** The host of a URL as an IP literal, or undefined for a name. */
function ipLiteral(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return ipaddr.isValid(host) && (host.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(host)) ? host : undefined;
}

export interface TargetPolicy {
  readonly livemode: boolean;
  /** Private and loopback targets allowed (test mode for local development, by configuration). */
  readonly allowPrivate: boolean;
}

/** Validates an endpoint URL when it is saved. A name that does not resolve yet is accepted; sending checks again. */
export async function checkWebhookUrl(raw: string, policy: TargetPolicy, resolve: (host: string) => Promise<string[]> = resolveAll): Promise<TargetVerdict> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'Invalid URL: must be an absolute http or https URL.' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'Invalid URL: the scheme must be https (or http in test mode).' };
  if (policy.livemode && url.protocol !== 'https:') return { ok: false, reason: 'Live-mode webhook endpoints must use https.' };
  if (url.hash !== '') return { ok: false, reason: 'Invalid URL: a webhook URL cannot have a fragment.' };
  if (policy.allowPrivate) return { ok: true, url };
  const literal = ipLiteral(url);
  if (literal !== undefined) {
    return isPublicAddress(literal) ? { ok: true, url } : { ok: false, reason: `The URL points at a private, loopback or link-local address (${literal}), which is not allowed.` };
  }
  const host = url.hostname.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) {
    return { ok: false, reason: `The host ${host} is a local name, which is not allowed.` };
  }
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch {
    return { ok: true, url };
  }
  const blocked = addresses.find((address) => !isPublicAddress(address));
  return blocked === undefined ? { ok: true, url } : { ok: false, reason: `The host ${host} resolves to a private, loopback or link-local address (${blocked}), which is not allowed.` };
}

async function resolveAll(host: string): Promise<string[]> {
  return (await dnsLookupAsync(host, { all: true })).map((entry) => entry.address);
}

export class BlockedTargetError extends Error {
  override name = 'BlockedTargetError';
  readonly code = 'EFENPAY_BLOCKED_TARGET';
}

/** A socket lookup that drops non-public addresses; with none left, the connection fails. */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) {
      callback(error, '', 4);
      return;
    }
    const allowed = addresses.filter((entry) => isPublicAddress(entry.address));
    if (allowed.length === 0) {
      callback(new BlockedTargetError(`${hostname} resolves only to private, loopback or link-local addresses`), '', 4);
      return;
    }
    if (options.all) (callback as unknown as (err: null, addresses: LookupAddress[]) => void)(null, allowed);
    else callback(null, allowed[0]!.address, allowed[0]!.family);
  });
};

/** Refuses a URL whose host is a non-public IP literal (sockets skip the lookup for literals). */
export function literalTargetAllowed(url: URL): boolean {
  const literal = ipLiteral(url);
  return literal === undefined || isPublicAddress(literal);
}
