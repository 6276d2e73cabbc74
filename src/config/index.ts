/**
 * The only module that reads process.env. Everything is validated once, at boot, into a frozen object;
 * a bad environment fails listing every bad key at once.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Secret } from '../kernel/index.ts';

export type Environment = 'development' | 'test' | 'production';
export type Role = 'api' | 'worker';

export interface Config {
  readonly env: Environment;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly embeddedPgPort: number;
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  readonly roles: readonly Role[];
  readonly logLevel: string;
  readonly dbPoolSize: number;
  readonly bodyLimitBytes: number;
  readonly vaultKeys: ReadonlyMap<string, Secret<Buffer>>;
  readonly vaultActiveKeyId: string;
  /** Keys card fingerprints; must outlive key rotation (defaults to the oldest vault key). */
  readonly vaultFingerprintKey: Secret<Buffer> | undefined;
  readonly paymentIntentExpirySeconds: number;
  readonly authorizationExpirySeconds: number;
  readonly idempotencyTtlHours: number;
  readonly idempotencyLockTimeoutSeconds: number;
  readonly channelFeeBps: ReadonlyMap<string, bigint>;
  readonly syncTimeoutCardDelaySeconds: number;
  /** The sandbox emulators' notification retry schedules run this many times faster than the providers'. */
  readonly sandboxClockScale: number;
  readonly shutdownTimeoutMs: number;
  readonly seedDemo: boolean;
  readonly workerConcurrency: number;
  /** Group commits in flight at once per process, and write sets per group commit. */
  readonly writeBatchConcurrency: number;
  readonly writeBatchSizeMax: number;
  readonly webhooks: WebhookConfig;
  readonly channelHealth: ChannelHealthConfig;
  /** Failed payment attempts a hosted checkout accepts before it refuses more (card testing). */
  readonly checkoutFailedAttemptsMax: number;
  /** Optional publication of every event to NATS JetStream; undefined: off. */
  readonly nats: NatsConfig | undefined;
}

export interface WebhookConfig {
  /** One delivery attempt's whole budget (connect, send, answer). */
  readonly timeoutMs: number;
  /** Waits between attempts; the last one repeats until the retry window closes. */
  readonly retryScheduleMs: readonly number[];
  /** A delivery not accepted this long after its event is given up. */
  readonly retryWindowMs: number;
  /** An endpoint whose every attempt failed for this long is disabled. */
  readonly disableAfterMs: number;
  readonly maxConcurrencyPerEndpoint: number;
  /** Endpoints on private, loopback or link-local addresses: allowed never, in test mode only, or always. */
  readonly privateTargets: 'never' | 'test' | 'always';
  /** How often the dispatcher looks for new events. */
  readonly dispatchIntervalMs: number;
}

export interface ChannelHealthConfig {
  /** A channel target failing with no healthy answer for this long leaves rotation. */
  readonly unhealthyAfterMs: number;
  /** Healthy answers in a row that bring it back. */
  readonly returnAfterSuccesses: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
}

export interface NatsConfig {
  readonly url: string;
  readonly stream: string;
  readonly subjectPrefix: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const str = (key: string, fallback: string): string => {
    const value = env[key];
    return value === undefined || value === '' ? fallback : value;
  };
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw)) {
      problems.push(`${key} must be an integer, got "${raw}"`);
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max) problems.push(`${key} must be between ${min} and ${max}, got ${value}`);
    return value;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    if (['1', 'true', 'yes'].includes(raw)) return true;
    if (['0', 'false', 'no'].includes(raw)) return false;
    problems.push(`${key} must be true or false, got "${raw}"`);
    return fallback;
  };

  const envName = str('FENPAY_ENV', env.NODE_ENV === 'production' ? 'production' : env.NODE_ENV === 'test' ? 'test' : 'development');
  if (!['development', 'test', 'production'].includes(envName)) problems.push(`FENPAY_ENV must be development, test or production, got "${envName}"`);
  const environment = envName as Environment;
  const production = environment === 'production';

  const databaseUrl = env.DATABASE_URL === '' ? undefined : env.DATABASE_URL;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push('DATABASE_URL must be a postgres:// URL');
  if (production && databaseUrl === undefined) problems.push('DATABASE_URL is required in production (the embedded database is for development)');

  const dataDir = path.resolve(str('FENPAY_DATA_DIR', '.fenpay'));
  const port = int('PORT', 4242, 0, 65535);
  const host = str('HOST', '127.0.0.1');
  const publicUrl = str('PUBLIC_URL', `http://localhost:${port}`).replace(/\/$/, '');
  if (!/^https?:\/\//.test(publicUrl)) problems.push('PUBLIC_URL must start with http:// or https://');

  const roles = str('FENPAY_ROLES', 'api,worker').split(',').map((r) => r.trim()).filter(Boolean);
  for (const role of roles) if (role !== 'api' && role !== 'worker') problems.push(`FENPAY_ROLES has unknown role "${role}" (api, worker)`);

  const logLevel = str('LOG_LEVEL', environment === 'test' ? 'warn' : 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) problems.push(`LOG_LEVEL is not a pino level: "${logLevel}"`);

  // Vault keys: "id:base64key,id2:base64key". Production has no default; development keeps a generated key in the data dir.
  const vaultKeys = new Map<string, Secret<Buffer>>();
  let vaultRaw = env.VAULT_KEYS;
  if ((vaultRaw === undefined || vaultRaw === '') && !production) vaultRaw = developmentVaultKey(dataDir);
  if (vaultRaw === undefined || vaultRaw === '') problems.push('VAULT_KEYS is required in production (id:base64-32-byte-key[,…])');
  else {
    for (const part of vaultRaw.split(',')) {
      const [id, b64] = part.split(':');
      const key = b64 === undefined ? Buffer.alloc(0) : Buffer.from(b64, 'base64');
      if (id === undefined || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
        problems.push('VAULT_KEYS entries must be id:base64 of exactly 32 bytes');
        break;
      }
      vaultKeys.set(id, new Secret(key));
    }
  }
  const vaultActiveKeyId = str('VAULT_ACTIVE_KEY_ID', [...vaultKeys.keys()].at(-1) ?? '');
  if (vaultKeys.size > 0 && !vaultKeys.has(vaultActiveKeyId)) problems.push(`VAULT_ACTIVE_KEY_ID "${vaultActiveKeyId}" is not among VAULT_KEYS`);

  let vaultFingerprintKey: Secret<Buffer> | undefined;
  const fingerprintRaw = env.VAULT_FINGERPRINT_KEY;
  if (fingerprintRaw !== undefined && fingerprintRaw !== '') {
    const key = Buffer.from(fingerprintRaw, 'base64');
    if (key.length !== 32) problems.push('VAULT_FINGERPRINT_KEY must be base64 of exactly 32 bytes');
    else vaultFingerprintKey = new Secret(key);
  }

  // Per-channel fee rates in basis points: "sandbox_card=290,alipay=60".
  const channelFeeBps = new Map<string, bigint>([['sandbox_card', 290n], ['alipay', 60n], ['wechat_pay', 60n], ['unionpay', 60n]]);
  const feesRaw = env.CHANNEL_FEE_BPS;
  if (feesRaw !== undefined && feesRaw !== '') {
    for (const part of feesRaw.split(',')) {
      const match = /^([a-z0-9_]+)=(\d{1,5})$/.exec(part.trim());
      if (!match || Number(match[2]) > 10_000) problems.push(`CHANNEL_FEE_BPS entry "${part}" must be channel=bps with bps ≤ 10000`);
      else channelFeeBps.set(match[1]!, BigInt(match[2]!));
    }
  }

  const duration = (key: string, fallback: string): number => {
    const raw = str(key, fallback);
    const ms = parseDuration(raw);
    if (ms === undefined) {
      problems.push(`${key} must be a duration like 500ms, 30s, 5m, 2h or 3d, got "${raw}"`);
      return parseDuration(fallback)!;
    }
    return ms;
  };
  const scheduleRaw = str('WEBHOOK_RETRY_SCHEDULE', '1m,5m,30m,1h,2h,4h,8h,12h');
  const retryScheduleMs = scheduleRaw.split(',').map((part) => parseDuration(part.trim()));
  if (retryScheduleMs.some((ms) => ms === undefined || ms <= 0)) problems.push(`WEBHOOK_RETRY_SCHEDULE must be a comma-separated list of durations, got "${scheduleRaw}"`);
  const privateTargets = str('WEBHOOK_PRIVATE_TARGETS', 'test');
  if (!['never', 'test', 'always'].includes(privateTargets)) problems.push(`WEBHOOK_PRIVATE_TARGETS must be never, test or always, got "${privateTargets}"`);
  const natsUrl = env.NATS_URL === '' ? undefined : env.NATS_URL;
  if (natsUrl !== undefined && !/^(nats|tls|wss?):\/\//.test(natsUrl)) problems.push('NATS_URL must be a nats:// URL');
  const natsStream = str('NATS_STREAM', 'FENPAY_EVENTS');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(natsStream)) problems.push('NATS_STREAM must be letters, digits, _ or -');
  const natsSubjectPrefix = str('NATS_SUBJECT_PREFIX', 'fenpay.events');
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(natsSubjectPrefix)) problems.push('NATS_SUBJECT_PREFIX must be dot-separated tokens without wildcards');

  const config: Config = {
    env: environment,
    databaseUrl,
    dataDir,
    embeddedPgPort: int('EMBEDDED_PG_PORT', 54329, 1, 65535),
    host,
    port,
    publicUrl,
    roles: roles as Role[],
    logLevel,
    dbPoolSize: int('DB_POOL_SIZE', 20, 2, 200),
    bodyLimitBytes: int('BODY_LIMIT_BYTES', 256 * 1024, 1024, 16 * 1024 * 1024),
    vaultKeys,
    vaultActiveKeyId,
    vaultFingerprintKey,
    paymentIntentExpirySeconds: int('PAYMENT_INTENT_EXPIRY_SECONDS', 30 * 60, 1, 30 * 24 * 3600),
    authorizationExpirySeconds: int('AUTHORIZATION_EXPIRY_SECONDS', 7 * 24 * 3600, 1, 31 * 24 * 3600),
    idempotencyTtlHours: int('IDEMPOTENCY_TTL_HOURS', 24, 24, 24 * 90),
    idempotencyLockTimeoutSeconds: int('IDEMPOTENCY_LOCK_TIMEOUT_SECONDS', 60, 1, 3600),
    channelFeeBps,
    syncTimeoutCardDelaySeconds: int('SANDBOX_TIMEOUT_CARD_SETTLE_SECONDS', 5, 0, 3600),
    sandboxClockScale: int('SANDBOX_CLOCK_SCALE', 1, 1, 100_000),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    seedDemo: bool('FENPAY_SEED_DEMO', !production),
    workerConcurrency: int('WORKER_CONCURRENCY', 4, 1, 64),
    writeBatchConcurrency: int('WRITE_BATCH_CONCURRENCY', 2, 1, 32),
    writeBatchSizeMax: int('WRITE_BATCH_SIZE_MAX', 400, 1, 5000),
    webhooks: {
      timeoutMs: duration('WEBHOOK_TIMEOUT', '10s'),
      retryScheduleMs: retryScheduleMs.map((ms) => ms ?? 60_000),
      retryWindowMs: duration('WEBHOOK_RETRY_WINDOW', '3d'),
      disableAfterMs: duration('WEBHOOK_DISABLE_AFTER', '3d'),
      maxConcurrencyPerEndpoint: int('WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT', 10, 1, 1000),
      privateTargets: privateTargets as WebhookConfig['privateTargets'],
      dispatchIntervalMs: duration('WEBHOOK_DISPATCH_INTERVAL', '200ms'),
    },
    checkoutFailedAttemptsMax: int('CHECKOUT_FAILED_ATTEMPTS_MAX', 10, 1, 1000),
    channelHealth: {
      unhealthyAfterMs: duration('CHANNEL_UNHEALTHY_AFTER', '30s'),
      returnAfterSuccesses: int('CHANNEL_RETURN_AFTER_SUCCESSES', 2, 1, 100),
      probeIntervalMs: duration('CHANNEL_PROBE_INTERVAL', '5s'),
      probeTimeoutMs: duration('CHANNEL_PROBE_TIMEOUT', '3s'),
    },
    nats: natsUrl === undefined ? undefined : { url: natsUrl, stream: natsStream, subjectPrefix: natsSubjectPrefix },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "5m", "2h", "3d" (decimals allowed) → milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  if (!match) return undefined;
  return Math.trunc(Number(match[1]) * durationUnits[match[2]!]!);
}

function developmentVaultKey(dataDir: string): string {
  const file = path.join(dataDir, 'dev-vault-key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `dev1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/** Test and script helpers get the raw environment through here too, so only this room touches process.env. */
export function environmentVariable(name: string): string | undefined {
  return process.env[name];
}
