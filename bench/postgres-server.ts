/**
 * The PostgreSQL server the benchmark runs on: DATABASE_URL's server when set, otherwise an embedded
 * PostgreSQL in a temporary folder. The benchmark only ever creates and drops its own databases on it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/index.ts';

export interface PostgresServer {
  readonly kind: 'external' | 'embedded';
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  /** A connection URL for one database on this server. */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export async function openPostgresServer(options: { databaseUrl: string | undefined }): Promise<PostgresServer> {
  if (options.databaseUrl !== undefined) {
    const url = new URL(options.databaseUrl);
    // All benchmark traffic stays on this machine; a remote server would measure the network instead.
    if (!loopbackHosts.has(url.hostname)) throw new Error(`DATABASE_URL must point at a loopback address for the benchmark, got host "${url.hostname}"`);
    return serverAt({ kind: 'external', adminUrl: url.toString(), stop: async () => undefined });
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fenpay-bench-pg-'));
  try {
    const embedded = await startEmbeddedPostgres({ dataDir, port: 0, database: 'postgres', persistent: false });
    return serverAt({
      kind: 'embedded',
      adminUrl: embedded.url,
      stop: async () => {
        try {
          await embedded.stop();
        } finally {
          rmSync(dataDir, { recursive: true, force: true });
        }
      },
    });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

function serverAt(input: { kind: 'external' | 'embedded'; adminUrl: string; stop: () => Promise<void> }): PostgresServer {
  const admin = new URL(input.adminUrl);
  const urlFor = (database: string) => {
    const url = new URL(input.adminUrl);
    url.pathname = `/${database}`;
    return url.toString();
  };
  return {
    kind: input.kind,
    host: admin.hostname === 'localhost' ? '127.0.0.1' : admin.hostname,
    port: admin.port === '' ? 5432 : Number(admin.port),
    user: decodeURIComponent(admin.username) || 'postgres',
    password: admin.password === '' ? undefined : decodeURIComponent(admin.password),
    urlFor,
    async createDatabase(name) {
      await withClient(input.adminUrl, (client) => client.query(`CREATE DATABASE ${databaseIdent(name)}`));
    },
    async dropDatabase(name) {
      await withClient(input.adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${databaseIdent(name)} WITH (FORCE)`));
    },
    stop: input.stop,
  };
}

function databaseIdent(name: string): string {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`refusing a database name that is not a plain identifier: ${name}`);
  return name;
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'fenpay-bench' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface ServerSettings {
  readonly version: string;
  readonly serverVersion: string;
  readonly synchronousCommit: string;
  readonly fsync: string;
  readonly walSyncMethod: string;
  readonly fullPageWrites: string;
  readonly commitDelay: string;
  readonly sharedBuffers: string;
  readonly maxConnections: string;
  /** The checkpointer lives as long as the server; its parent is the postmaster, whose process tree is PostgreSQL's CPU. */
  readonly checkpointerPid: number | undefined;
}

/** What a new session on `url` gets by default: the durability settings Fenpay and pgbench run with. */
export async function readServerSettings(url: string): Promise<ServerSettings> {
  return await withClient(url, async (client) => {
    const show = async (name: string) => (await client.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name]!;
    return {
      version: (await client.query<{ version: string }>('SELECT version()')).rows[0]!.version,
      serverVersion: await show('server_version'),
      synchronousCommit: await show('synchronous_commit'),
      fsync: await show('fsync'),
      walSyncMethod: await show('wal_sync_method'),
      fullPageWrites: await show('full_page_writes'),
      commitDelay: await show('commit_delay'),
      sharedBuffers: await show('shared_buffers'),
      maxConnections: await show('max_connections'),
      checkpointerPid: (await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")).rows[0]?.pid,
    };
  });
}

/** Flushes dirty buffers so a measured phase does not pay for the previous phase's checkpoint. */
export async function checkpoint(url: string): Promise<void> {
  await withClient(url, (client) => client.query('CHECKPOINT'));
}
