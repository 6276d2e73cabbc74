/** What flows need from the process: handles wired once in main.ts (or a test) and passed down. */
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Db, Executor, WriteBatcher, WriteSet } from '../db/index.ts';
import type { ChannelRegistry } from '../channels/registry.ts';
import type { ChannelCatalogEntry } from '../channels/catalog.ts';
import type { IdempotencyScope } from '../idempotency/index.ts';
import { AppError, type Tenant } from '../kernel/index.ts';
import type { Vault } from '../vault/index.ts';

export interface Services {
  readonly db: Db;
  readonly batcher: WriteBatcher;
  readonly channels: ChannelRegistry;
  /** Channels a merchant can connect its own account to (channel accounts). */
  readonly channelCatalog: ReadonlyMap<string, ChannelCatalogEntry>;
  readonly vault: Vault;
  readonly config: Config;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Asks the worker to query an unknown attempt at `runAt` (best effort; a sweeper is the backstop). */
  readonly scheduleSync: (attemptId: string, runAt: Date) => void;
  readonly metrics: FlowMetrics;
  /** Adds background jobs inside the caller's transaction: a job exists exactly when the rows it works on do. */
  readonly enqueueInTransaction: (executor: Executor, jobs: readonly JobSpec[]) => Promise<void>;
}

export interface JobSpec {
  readonly task: 'deliver_webhook' | 'process_channel_notification';
  readonly payload: Readonly<Record<string, unknown>>;
  readonly runAt?: Date | undefined;
  /** At most one pending job per key (graphile-worker job keys); a running one is left alone. */
  readonly jobKey?: string | undefined;
}

export interface FlowMetrics {
  paymentOutcome(labels: { status: string; method: string; channel: string }): void;
  ledgerTransfers(count: number): void;
  integrityMismatch(channel: string): void;
  webhookAttempt(labels: { outcome: 'succeeded' | 'failed' }, durationMs: number): void;
  notificationReceived(labels: { channel: string; outcome: 'stored' | 'duplicate' | 'refused' }): void;
  channelHealth(labels: { target: string; inRotation: boolean }): void;
}

export interface RequestContext {
  readonly tenant: Tenant;
  readonly requestId: string | undefined;
  readonly idempotency: IdempotencyScope | undefined;
  /** Live-mode raw card numbers are accepted only for merchants that handle card data themselves. */
  readonly handlesCardData: boolean;
  /** The caller's IP (WeChat Pay H5 needs the payer's; merchants pass it through as their client's). */
  readonly clientIp?: string | undefined;
}

/** A system actor (jobs, channel callbacks) acting for a tenant without a request. */
export function systemContext(tenant: Tenant): RequestContext {
  return { tenant, requestId: undefined, idempotency: undefined, handlesCardData: false };
}

export class VersionConflict extends Error {
  override name = 'VersionConflict';
}

/** The idempotency key was claimed by another request first: the HTTP layer replays or answers 409. */
export class IdempotencyClaimTaken extends Error {
  override name = 'IdempotencyClaimTaken';
}

/**
 * Submits a WriteSet, adding the request's idempotency claim to the first write and marking it
 * claimed. Maps rejections to typed errors.
 */
export async function commit(services: Services, ctx: RequestContext, writeSet: WriteSet, options: { resourceId: string | null }): Promise<void> {
  const scope = ctx.idempotency;
  const claimNow = scope !== undefined && !scope.claimed;
  const full: WriteSet = claimNow ? { ...writeSet, claims: [...(writeSet.claims ?? []), scope.claim(options.resourceId, services.now())] } : writeSet;
  const result = await services.batcher.submit(full);
  if (result.ok) {
    if (claimNow) scope.claimed = true;
    const transfers = (writeSet.inserts ?? []).filter((i) => i.table === 'ledger_transfers').length;
    if (transfers > 0) services.metrics.ledgerTransfers(transfers);
    return;
  }
  switch (result.reason) {
    case 'version_conflict':
      throw new VersionConflict(`${result.table} ${result.id} changed`);
    case 'claim_taken':
      throw new IdempotencyClaimTaken();
    case 'balance_insufficient':
      throw new AppError('balance_insufficient');
  }
}

/** Optimistic concurrency: re-read and recompute when another writer got there first. */
export async function retryOnConflict<T>(fn: () => Promise<T>, attemptsMax = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof VersionConflict)) throw error;
      if (attempt >= attemptsMax) throw new AppError('concurrent_update');
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 5 * attempt)));
    }
  }
}

export function mergeWriteSets(...sets: readonly WriteSet[]): WriteSet {
  return {
    guards: sets.flatMap((s) => s.guards ?? []),
    claims: sets.flatMap((s) => s.claims ?? []),
    insertsIfAbsent: sets.flatMap((s) => s.insertsIfAbsent ?? []),
    inserts: sets.flatMap((s) => s.inserts ?? []),
    updates: sets.flatMap((s) => s.updates ?? []),
    balanceDeltas: sets.flatMap((s) => s.balanceDeltas ?? []),
  };
}
