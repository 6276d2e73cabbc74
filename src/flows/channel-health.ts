/**
 * Channel health: a circuit breaker per target (a merchant's channel account, or a built-in channel),
 * fed by active probes (the worker's heartbeat loop) and passive signals from real traffic (timeouts,
 * 5xx, unverifiable answers). A target with no healthy answer for `CHANNEL_UNHEALTHY_AFTER` leaves
 * rotation; it keeps being probed and returns after `CHANNEL_RETURN_AFTER_SUCCESSES` healthy answers in
 * a row, so a flapping channel does not bounce in and out on every probe. Kept in the database, so every
 * API process routes by the same view.
 */
import { sql } from 'kysely';
import type { ChannelOutcome, OperationOutcome } from '../channels/channel.ts';
import type { Services } from './services.ts';
import { forgetRouting } from './routing-cache.ts';

export function builtInTarget(channel: string): string {
  return `builtin:${channel}`;
}

/** Whether an outcome says the channel itself misbehaved (as opposed to a payment still pending). */
export function isChannelFault(outcome: ChannelOutcome | OperationOutcome): boolean {
  if (outcome.status !== 'processing') return false;
  return /timeout|timed out|hang|ECONN|EPIPE|socket|network|fetch failed|HTTP 5\d\d|\b5\d\d\b|server_error|SYSTEM_ERROR|20000|signature|unverif|untrusted|channel_error|channel_unavailable|query_error|unreadable|bad answer/i.test(outcome.reason);
}

export async function recordHealth(services: Services, target: string, healthy: boolean, error?: string): Promise<boolean> {
  forgetRouting(services);
  const now = services.now();
  const { unhealthyAfterMs, returnAfterSuccesses } = services.config.channelHealth;
  if (healthy) {
    return await sql`
      INSERT INTO channel_health (target, in_rotation, last_success_at, consecutive_successes, consecutive_failures, failing_since, changed_at)
      VALUES (${target}, true, ${now}, 1, 0, NULL, ${now})
      ON CONFLICT (target) DO UPDATE SET
        last_success_at = ${now},
        failing_since = NULL,
        consecutive_successes = channel_health.consecutive_successes + 1,
        consecutive_failures = 0,
        in_rotation = channel_health.in_rotation OR channel_health.consecutive_successes + 1 >= ${returnAfterSuccesses},
        changed_at = CASE WHEN NOT channel_health.in_rotation AND channel_health.consecutive_successes + 1 >= ${returnAfterSuccesses} THEN ${now} ELSE channel_health.changed_at END
      RETURNING in_rotation`.execute(services.db).then((r) => inRotation(r.rows));
  }
  // Out of rotation once it has been failing, with no healthy answer in between, for the whole window.
  const outBefore = new Date(now.getTime() - unhealthyAfterMs);
  return await sql`
    INSERT INTO channel_health (target, in_rotation, last_failure_at, last_error, consecutive_successes, consecutive_failures, failing_since, changed_at)
    VALUES (${target}, ${unhealthyAfterMs <= 0 ? false : true}, ${now}, ${error ?? null}, 0, 1, ${now}, ${now})
    ON CONFLICT (target) DO UPDATE SET
      last_failure_at = ${now},
      last_error = ${error ?? null},
      consecutive_successes = 0,
      consecutive_failures = channel_health.consecutive_failures + 1,
      failing_since = COALESCE(channel_health.failing_since, ${now}),
      in_rotation = channel_health.in_rotation AND COALESCE(channel_health.failing_since, ${now}) > ${outBefore},
      changed_at = CASE WHEN channel_health.in_rotation AND COALESCE(channel_health.failing_since, ${now}) <= ${outBefore} THEN ${now} ELSE channel_health.changed_at END
    RETURNING in_rotation`.execute(services.db).then((r) => inRotation(r.rows));
}

function inRotation(rows: readonly unknown[]): boolean {
  return (rows[0] as { in_rotation?: boolean } | undefined)?.in_rotation ?? true;
}

/**
 * Passive signals are written at most once per second per target, outcome and process: on the hot path
 * every payment would otherwise update the same health row (one locked row for all traffic), and the
 * breaker's window is tens of seconds, so a second's granularity loses nothing.
 */
const passiveWritten = new WeakMap<Services, Map<string, number>>();
const passiveIntervalMs = 1_000;

/** A passive signal from a real channel call. */
export async function noteChannelCall(services: Services, target: string, outcome: ChannelOutcome | OperationOutcome): Promise<void> {
  try {
    const fault = isChannelFault(outcome);
    let written = passiveWritten.get(services);
    if (!written) passiveWritten.set(services, (written = new Map()));
    const key = `${target}|${fault ? 'fault' : 'ok'}`;
    const nowMs = services.now().getTime();
    if (nowMs - (written.get(key) ?? -Infinity) < passiveIntervalMs) return;
    written.set(key, nowMs);
    services.metrics.channelHealth({ target, inRotation: await recordHealth(services, target, !fault, fault && outcome.status === 'processing' ? outcome.reason.slice(0, 200) : undefined) });
  } catch (error) {
    services.logger.warn({ err: error, target }, 'could not record channel health');
  }
}

export interface HealthView {
  readonly target: string;
  readonly in_rotation: boolean;
  readonly last_success_at: Date | null;
  readonly last_failure_at: Date | null;
  readonly last_error: string | null;
  readonly failing_since: Date | null;
  readonly consecutive_failures: number;
}

export async function healthOf(services: Services, targets: readonly string[]): Promise<Map<string, HealthView>> {
  if (targets.length === 0) return new Map();
  const rows = await services.db.selectFrom('channel_health').selectAll().where('target', 'in', targets).execute();
  return new Map(rows.map((r) => [r.target, r]));
}

export function serializeHealth(view: HealthView | undefined): Record<string, unknown> {
  if (!view) return { status: 'unknown', in_rotation: true, last_success: null, last_failure: null, last_error: null };
  return {
    status: view.in_rotation ? (view.consecutive_failures > 0 ? 'degraded' : 'healthy') : 'out_of_rotation',
    in_rotation: view.in_rotation,
    last_success: view.last_success_at === null ? null : Math.floor(view.last_success_at.getTime() / 1000),
    last_failure: view.last_failure_at === null ? null : Math.floor(view.last_failure_at.getTime() / 1000),
    last_error: view.last_error,
  };
}

/** One heartbeat: GET the target's health URL; any answer below 500 within the time budget is healthy. */
export async function probe(url: string, timeoutMs: number): Promise<{ healthy: boolean; error: string | undefined }> {
  try {
    const response = await fetch(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.status < 500 ? { healthy: true, error: undefined } : { healthy: false, error: `HTTP ${response.status}` };
  } catch (error) {
    return { healthy: false, error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 200) : 'probe failed' };
  }
}

/**
 * One heartbeat round over every active channel account (all merchants) and the built-in channels.
 * Several workers may run it; health updates are single statements, so doubled probes only count twice.
 */
export async function probeChannels(services: Services, builtInProbeUrls: ReadonlyMap<string, string>): Promise<number> {
  const accounts = await services.db.selectFrom('channel_accounts').select(['id', 'channel', 'credentials_public']).where('status', '=', 'active').execute();
  const targets: { target: string; url: string }[] = [...builtInProbeUrls].map(([channel, url]) => ({ target: builtInTarget(channel), url }));
  for (const account of accounts) {
    const entry = services.channelCatalog.get(account.channel);
    if (entry) targets.push({ target: account.id, url: entry.probeUrl(account.credentials_public) });
  }
  const timeoutMs = services.config.channelHealth.probeTimeoutMs;
  const queue = [...targets];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const result = await probe(next.url, timeoutMs);
      const inRotation = await recordHealth(services, next.target, result.healthy, result.error);
      services.metrics.channelHealth({ target: next.target, inRotation });
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, targets.length) }, worker));
  return targets.length;
}
