/**
 * Routing a new attempt to a channel account. Candidates are the merchant's active accounts whose
 * channel serves the method in this mode; an account is eligible when its rules hold (currency, amount
 * range, card brand) and it is in rotation (channel-health.ts). Among the eligible: strategy `priority`
 * (default) takes the lowest priority number and, among equals, draws by weight; `cheapest` takes the
 * lowest fee for this payment (then priority). The decision — every candidate with why it was or was not
 * eligible, and why the winner won — is recorded on the attempt.
 *
 * Failover is for new attempts only: an attempt whose outcome is unknown is never re-sent elsewhere; the
 * intent cannot be confirmed again until that attempt is known failed or closed.
 */
import { randomInt } from 'node:crypto';
import { AppError, feeForRate, type Tenant } from '../kernel/index.ts';
import type { FeeRule, RoutingRules } from '../db/index.ts';
import type { Services } from './services.ts';
import { accountNotifyUrl, adapterFor, type ChannelAccountRow, type ResolvedChannel } from './channel-accounts.ts';
import { builtInTarget, healthOf } from './channel-health.ts';
import { cached } from './routing-cache.ts';

export type RoutingStrategy = 'priority' | 'cheapest';
export const routingStrategies: readonly RoutingStrategy[] = ['priority', 'cheapest'];

export interface RouteRequest {
  readonly type: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly cardBrand: string | undefined;
}

export interface FeeRate {
  readonly bps: number;
  readonly fixed: bigint;
}

export interface Routed extends ResolvedChannel {
  readonly decision: Record<string, unknown>;
  readonly fee: FeeRate | undefined;
}

/** The fee entry for this method and currency: an exact match beats a partial one, which beats the default. */
export function feeRateFor(fees: readonly FeeRule[], request: { type: string; currency: string }): FeeRate | undefined {
  let best: { score: number; rule: FeeRule } | undefined;
  for (const rule of fees) {
    if (rule.payment_method_type !== undefined && rule.payment_method_type !== request.type) continue;
    if (rule.currency !== undefined && rule.currency !== request.currency) continue;
    const score = (rule.payment_method_type !== undefined ? 2 : 0) + (rule.currency !== undefined ? 1 : 0);
    if (!best || score > best.score) best = { score, rule };
  }
  return best ? { bps: best.rule.percent_bps, fixed: BigInt(best.rule.fixed_amount) } : undefined;
}

export function feeAmount(amount: bigint, rate: FeeRate): bigint {
  return feeForRate(amount, BigInt(rate.bps)) + rate.fixed;
}

function ruleMismatch(rules: RoutingRules, request: RouteRequest): string | undefined {
  if (rules.currencies && !rules.currencies.includes(request.currency)) return `currency ${request.currency} not in ${rules.currencies.join(', ')}`;
  if (rules.min_amount !== undefined && request.amount < BigInt(rules.min_amount)) return `amount below ${rules.min_amount}`;
  if (rules.max_amount !== undefined && request.amount > BigInt(rules.max_amount)) return `amount above ${rules.max_amount}`;
  if (rules.card_brands && (request.cardBrand === undefined || !rules.card_brands.includes(request.cardBrand))) return `card brand ${request.cardBrand ?? 'none'} not in ${rules.card_brands.join(', ')}`;
  return undefined;
}

export async function routingStrategyOf(services: Services, merchantId: string): Promise<RoutingStrategy> {
  const merchant = await services.db.selectFrom('merchants').select('settings').where('id', '=', merchantId).executeTakeFirst();
  const strategy = (merchant?.settings as { routing_strategy?: string } | undefined)?.routing_strategy;
  return strategy === 'cheapest' ? 'cheapest' : 'priority';
}

/**
 * Where a new attempt goes. Undefined: nothing could ever serve it (no account and no built-in channel
 * for the method in this mode). Throws `no_channel_available` when accounts exist but none is eligible
 * right now (all out of rotation, or no rule matches) — nothing is sent anywhere.
 */
export async function routeNewAttempt(services: Services, tenant: Tenant, request: RouteRequest): Promise<Routed | undefined> {
  const channels = [...services.channelCatalog.values()].filter((e) => e.paymentMethodTypes.includes(request.type)).map((e) => e.channel);
  const accounts: ChannelAccountRow[] =
    channels.length === 0
      ? []
      : await cached(services, `accounts|${tenant.merchantId}|${tenant.livemode}|${request.type}`, () => services.db
          .selectFrom('channel_accounts')
          .selectAll()
          .where('merchant_id', '=', tenant.merchantId)
          .where('livemode', '=', tenant.livemode)
          .where('status', '=', 'active')
          .where('channel', 'in', channels)
          .orderBy('priority')
          .orderBy('created_at')
          .orderBy('id')
          .execute());
  const builtIn = services.channels.forPaymentMethodType(request.type, tenant.livemode);
  if (accounts.length === 0) {
    if (!builtIn) return undefined;
    const health = (await cached(services, `health|${builtInTarget(builtIn.id)}`, () => healthOf(services, [builtInTarget(builtIn.id)]))).get(builtInTarget(builtIn.id));
    if (health && !health.in_rotation) throw unavailable(request, [`${builtIn.id}: out of rotation (${health.last_error ?? 'no healthy answer'})`]);
    const fee = services.config.channelFeeBps.get(builtIn.id);
    return {
      adapter: builtIn,
      accountId: null,
      notifyUrl: `${services.config.publicUrl}/notify/${builtIn.id}`,
      decision: { strategy: 'built_in', chosen: builtIn.id, reason: 'no channel account of the merchant serves this method; the built-in channel does' },
      fee: fee === undefined ? undefined : { bps: Number(fee), fixed: 0n },
    };
  }

  const strategy = await cached(services, `strategy|${tenant.merchantId}`, () => routingStrategyOf(services, tenant.merchantId));
  const health = await cached(services, `health|${accounts.map((a) => a.id).join(',')}`, () => healthOf(services, accounts.map((a) => a.id)));
  const candidates = accounts.map((account) => {
    const fee = feeRateFor(account.fees, request) ?? defaultRate(services, account.channel);
    const mismatch = ruleMismatch(account.rules, request);
    const state = health.get(account.id);
    const reason = mismatch ?? (state && !state.in_rotation ? `out of rotation since ${state.failing_since?.toISOString() ?? '?'} (${state.last_error ?? 'no healthy answer'})` : undefined);
    return { account, fee, feeAmount: fee ? feeAmount(request.amount, fee) : 0n, eligible: reason === undefined, reason };
  });
  const eligible = candidates.filter((c) => c.eligible);
  const summary = candidates.map((c) => ({ account: c.account.id, channel: c.account.channel, priority: c.account.priority, weight: c.account.weight, fee: Number(c.feeAmount), eligible: c.eligible, reason: c.reason ?? null }));
  if (eligible.length === 0) throw unavailable(request, candidates.map((c) => `${c.account.id}: ${c.reason ?? 'not eligible'}`));

  let chosen: (typeof eligible)[number];
  let reason: string;
  if (strategy === 'cheapest') {
    chosen = eligible.reduce((best, c) => (c.feeAmount < best.feeAmount || (c.feeAmount === best.feeAmount && c.account.priority < best.account.priority) ? c : best));
    reason = `cheapest eligible: fee ${chosen.feeAmount} ${request.currency}`;
  } else {
    const top = eligible.filter((c) => c.account.priority === eligible[0]!.account.priority);
    const total = top.reduce((sum, c) => sum + Math.max(c.account.weight, 0), 0);
    if (top.length === 1 || total <= 0) {
      chosen = top[0]!;
      reason = `highest priority eligible (${chosen.account.priority})`;
    } else {
      let draw = randomInt(total);
      chosen = top.find((c) => (draw -= Math.max(c.account.weight, 0)) < 0) ?? top[0]!;
      reason = `priority ${chosen.account.priority}, drawn by weight ${chosen.account.weight} of ${total}`;
    }
    if (chosen.account.id !== candidates[0]!.account.id && !candidates[0]!.eligible) reason += `; failed over from ${candidates[0]!.account.id} (${candidates[0]!.reason ?? ''})`;
  }
  const adapter = adapterFor(services, chosen.account);
  if (!adapter) throw unavailable(request, [`${chosen.account.id}: its channel is not available in this build`]);
  return {
    adapter,
    accountId: chosen.account.id,
    notifyUrl: accountNotifyUrl(services.config.publicUrl, chosen.account),
    decision: { strategy, chosen: chosen.account.id, reason, candidates: summary },
    fee: chosen.fee,
  };
}

function defaultRate(services: Services, channel: string): FeeRate | undefined {
  const bps = services.config.channelFeeBps.get(channel);
  return bps === undefined ? undefined : { bps: Number(bps), fixed: 0n };
}

function unavailable(request: RouteRequest, reasons: readonly string[]): AppError {
  return new AppError('no_channel_available', {
    message: `No channel can take this ${request.type} payment right now: ${reasons.join('; ')}. Nothing was charged; retry later or with another payment method.`,
  });
}
