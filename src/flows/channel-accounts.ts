/**
 * Channel accounts: a merchant's own credentials at a provider, sealed by the vault, and the adapters
 * built from them. Live-mode payments go through the merchant's active account for the method; test mode
 * through a test-mode account of the merchant when it has one, otherwise the built-in emulators. An
 * attempt remembers its account, so its queries, captures, refunds and notifications use the same
 * credentials even after the account is disabled or its credentials are replaced.
 */
import type { Selectable } from 'kysely';
import { AppError, applyMetadata, newId, Secret, unixSeconds, type MetadataPatch, type Tenant } from '../kernel/index.ts';
import type { ChannelAccountsTable, FeeRule, RoutingRules } from '../db/index.ts';
import type { ChannelAdapter } from '../channels/channel.ts';
import type { ChannelCatalogEntry } from '../channels/catalog.ts';
import { commit, retryOnConflict, type RequestContext, type Services } from './services.ts';
import { healthOf, serializeHealth, type HealthView } from './channel-health.ts';
import { forgetRouting } from './routing-cache.ts';

export type ChannelAccountRow = Selectable<ChannelAccountsTable>;

const sealPurpose = 'channel_credentials';

export function accountNotifyUrl(publicUrl: string, account: { channel: string; id: string }): string {
  return `${publicUrl}/notify/${account.channel}/${account.id}`;
}

export function serializeChannelAccount(row: ChannelAccountRow, publicUrl: string, catalog?: ChannelCatalogEntry, health?: HealthView | null): Record<string, unknown> {
  const secrets = Object.entries(catalog?.fields ?? {}).filter(([, f]) => f.secret).map(([name]) => name);
  return {
    id: row.id,
    object: 'channel_account',
    channel: row.channel,
    created: unixSeconds(row.created_at),
    credentials: { ...row.credentials_public, ...Object.fromEntries(secrets.map((name) => [name, '[sealed]'])) },
    description: row.description,
    livemode: row.livemode,
    metadata: row.metadata,
    notify_url: accountNotifyUrl(publicUrl, row),
    payment_method_types: catalog?.paymentMethodTypes ?? [],
    priority: row.priority,
    weight: row.weight,
    rules: row.rules,
    fees: row.fees,
    status: row.status,
    ...(health === undefined ? {} : { health: serializeHealth(health ?? undefined) }),
  };
}

function catalogEntry(services: Services, channel: string, param = 'channel'): ChannelCatalogEntry {
  const entry = services.channelCatalog.get(channel);
  if (!entry) throw new AppError('parameter_invalid', { param, message: `Unknown channel '${channel}'; one of ${[...services.channelCatalog.keys()].join(', ')}.` });
  return entry;
}

/** Checks a credential set against the channel's fields, fills defaults, and proves it by building the adapter. */
function checkedCredentials(services: Services, entry: ChannelCatalogEntry, given: Readonly<Record<string, string>>, input: { livemode: boolean; accountId: string }): Record<string, string> {
  const credentials: Record<string, string> = {};
  for (const name of Object.keys(given)) {
    if (!(name in entry.fields)) throw new AppError('parameter_unknown', { param: `credentials[${name}]`, message: `${entry.displayName} takes no credential '${name}' (${Object.keys(entry.fields).join(', ')}).` });
  }
  for (const [name, spec] of Object.entries(entry.fields)) {
    const value = given[name] ?? spec.default;
    if (value === undefined || value === '') {
      if (spec.required) throw new AppError('parameter_missing', { param: `credentials[${name}]`, message: `Missing required credential: ${name} (${spec.description})` });
      continue;
    }
    if (value.length > 16_384) throw new AppError('parameter_invalid', { param: `credentials[${name}]`, message: `credentials[${name}] is too long.` });
    credentials[name] = value;
  }
  try {
    entry.build({ credentials, livemode: input.livemode, notifyUrl: accountNotifyUrl(services.config.publicUrl, { channel: entry.channel, id: input.accountId }) });
  } catch (error) {
    // The adapter refused them (a key that does not parse, a key of the other mode): say why, never echo them.
    throw new AppError('parameter_invalid', { param: 'credentials', message: `These ${entry.displayName} credentials cannot work: ${error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'invalid'}` });
  }
  return credentials;
}

function sealed(services: Services, accountId: string, merchantId: string, credentials: Record<string, string>): string {
  return services.vault.sealValue(new Secret(JSON.stringify(credentials)), { purpose: sealPurpose, ownerId: accountId, merchantId });
}

function publicPart(entry: ChannelCatalogEntry, credentials: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(credentials).filter(([name]) => entry.fields[name]?.secret === false));
}

export async function getChannelAccount(services: Services, tenant: Tenant, id: string): Promise<ChannelAccountRow | undefined> {
  return await services.db.selectFrom('channel_accounts').selectAll().where('id', '=', id).where('merchant_id', '=', tenant.merchantId).where('livemode', '=', tenant.livemode).executeTakeFirst();
}

/** How an account competes in routing (issue 5): order, weight, eligibility rules, fee schedule. */
export interface AccountRouting {
  readonly priority?: number | undefined;
  readonly weight?: number | undefined;
  readonly rules?: RoutingRules | undefined;
  readonly fees?: readonly FeeRule[] | undefined;
}

function checkedRouting(input: AccountRouting): AccountRouting {
  const rules = input.rules;
  if (rules?.min_amount !== undefined && rules.max_amount !== undefined && rules.min_amount > rules.max_amount) {
    throw new AppError('parameter_invalid', { param: 'rules[min_amount]', message: 'rules[min_amount] cannot be above rules[max_amount].' });
  }
  const seen = new Set<string>();
  input.fees?.forEach((fee, i) => {
    const key = `${fee.payment_method_type ?? '*'}/${fee.currency ?? '*'}`;
    if (seen.has(key)) throw new AppError('parameter_invalid', { param: `fees[${i}]`, message: `fees[${i}] repeats the rate for ${key}.` });
    seen.add(key);
  });
  return input;
}

export async function createChannelAccount(
  services: Services,
  ctx: RequestContext,
  input: { channel: string; credentials: Readonly<Record<string, string>>; description: string | undefined; metadata: MetadataPatch | undefined } & AccountRouting,
): Promise<Record<string, unknown>> {
  const routing = checkedRouting(input);
  const entry = catalogEntry(services, input.channel);
  const id = newId('channelAccount');
  const credentials = checkedCredentials(services, entry, input.credentials, { livemode: ctx.tenant.livemode, accountId: id });
  const now = services.now();
  const row: ChannelAccountRow = {
    id,
    merchant_id: ctx.tenant.merchantId,
    livemode: ctx.tenant.livemode,
    channel: entry.channel,
    description: input.description ?? null,
    status: 'active',
    credentials_sealed: sealed(services, id, ctx.tenant.merchantId, credentials),
    credentials_public: publicPart(entry, credentials),
    metadata: applyMetadata({}, input.metadata),
    priority: routing.priority ?? 100,
    weight: routing.weight ?? 1,
    rules: routing.rules ?? {},
    fees: [...(routing.fees ?? [])],
    version: 1,
    created_at: now,
    updated_at: now,
  };
  const body = serializeChannelAccount(row, services.config.publicUrl, entry);
  const scope = ctx.idempotency;
  await commit(services, ctx, { inserts: [{ table: 'channel_accounts', row: { ...row } }], updates: scope ? [scope.complete({ status: 200, body })] : [] }, { resourceId: id });
  forgetRouting(services);
  if (scope) scope.completed = true;
  return body;
}

export async function updateChannelAccount(
  services: Services,
  ctx: RequestContext,
  id: string,
  input: { credentials?: Readonly<Record<string, string>> | undefined; description?: string | null | undefined; metadata?: MetadataPatch | undefined; disabled?: boolean | undefined } & AccountRouting,
): Promise<Record<string, unknown>> {
  const routing = checkedRouting(input);
  return await retryOnConflict(async () => {
    const current = await getChannelAccount(services, ctx.tenant, id);
    if (!current) throw new AppError('resource_missing', { param: 'id', message: `No such channel account: '${id}'` });
    const entry = catalogEntry(services, current.channel);
    const credentials = input.credentials === undefined ? undefined : checkedCredentials(services, entry, input.credentials, { livemode: current.livemode, accountId: id });
    const next: ChannelAccountRow = {
      ...current,
      description: input.description === undefined ? current.description : input.description,
      metadata: applyMetadata(current.metadata, input.metadata),
      status: input.disabled === undefined ? current.status : input.disabled ? 'disabled' : 'active',
      credentials_sealed: credentials === undefined ? current.credentials_sealed : sealed(services, id, current.merchant_id, credentials),
      credentials_public: credentials === undefined ? current.credentials_public : publicPart(entry, credentials),
      priority: routing.priority ?? current.priority,
      weight: routing.weight ?? current.weight,
      rules: routing.rules ?? current.rules,
      fees: routing.fees === undefined ? current.fees : [...routing.fees],
      version: current.version + 1,
      updated_at: services.now(),
    };
    const body = serializeChannelAccount(next, services.config.publicUrl, entry);
    const scope = ctx.idempotency;
    await commit(
      services,
      ctx,
      {
        guards: [{ table: 'channel_accounts', id, version: current.version }],
        updates: [
          {
            table: 'channel_accounts',
            key: { id },
            set: {
              description: next.description,
              metadata: next.metadata,
              status: next.status,
              credentials_sealed: next.credentials_sealed,
              credentials_public: next.credentials_public,
              priority: next.priority,
              weight: next.weight,
              rules: next.rules,
              fees: next.fees,
              version: next.version,
              updated_at: next.updated_at,
            },
          },
          ...(scope ? [scope.complete({ status: 200, body })] : []),
        ],
      },
      { resourceId: id },
    );
    forgetRouting(services);
    if (scope) scope.completed = true;
    return body;
  });
}

/** Adapters built from accounts, by account id and version (a credential change makes a new one). */
const adapters = new WeakMap<Services, Map<string, { version: number; adapter: ChannelAdapter }>>();

export function adapterFor(services: Services, row: ChannelAccountRow): ChannelAdapter | undefined {
  const entry = services.channelCatalog.get(row.channel);
  if (!entry) return undefined;
  let cache = adapters.get(services);
  if (!cache) adapters.set(services, (cache = new Map()));
  const cached = cache.get(row.id);
  if (cached?.version === row.version) return cached.adapter;
  const credentials = JSON.parse(services.vault.openValue(row.credentials_sealed, { purpose: sealPurpose, ownerId: row.id, merchantId: row.merchant_id }).reveal()) as Record<string, string>;
  const adapter = entry.build({ credentials, livemode: row.livemode, notifyUrl: accountNotifyUrl(services.config.publicUrl, row) });
  cache.set(row.id, { version: row.version, adapter });
  return adapter;
}

export interface ResolvedChannel {
  readonly adapter: ChannelAdapter;
  readonly accountId: string | null;
  readonly notifyUrl: string;
}

/** The adapter an existing attempt went through (its account's, whatever the account's state now). */
export async function channelForAttempt(services: Services, attempt: { channel: string; channel_account_id: string | null }): Promise<ChannelAdapter | undefined> {
  if (attempt.channel_account_id === null) return services.channels.get(attempt.channel);
  const account = await services.db.selectFrom('channel_accounts').selectAll().where('id', '=', attempt.channel_account_id).executeTakeFirst();
  return account ? adapterFor(services, account) : undefined;
}

/** The adapter that verifies a notification sent to /notify/:channel[/:account]. */
export async function channelForNotification(services: Services, channel: string, accountId: string | undefined): Promise<ChannelAdapter | undefined> {
  if (accountId === undefined) return services.channels.get(channel);
  const account = await services.db.selectFrom('channel_accounts').selectAll().where('id', '=', accountId).where('channel', '=', channel).executeTakeFirst();
  return account ? adapterFor(services, account) : undefined;
}

export async function listChannelAccounts(services: Services, tenant: Tenant): Promise<Record<string, unknown>[]> {
  const rows = await services.db
    .selectFrom('channel_accounts')
    .selectAll()
    .where('merchant_id', '=', tenant.merchantId)
    .where('livemode', '=', tenant.livemode)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(100)
    .execute();
  const health = await healthOf(services, rows.map((r) => r.id));
  return rows.map((row) => serializeChannelAccount(row, services.config.publicUrl, services.channelCatalog.get(row.channel), health.get(row.id) ?? null));
}
