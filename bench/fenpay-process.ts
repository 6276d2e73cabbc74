/**
 * Fenpay under test, in its own process (`node --import tsx bench/fenpay-entry.ts`, which is src/main.ts),
 * so the load generator does not share its event loop or CPU accounting. Configured like a production deployment: production
 * mode, explicit vault keys, no demo merchant, warnings only.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { environmentVariable } from '../src/config/index.ts';

export interface FenpayProcess {
  readonly pid: number;
  readonly baseUrl: string;
  /** The last lines Fenpay wrote (stdout and stderr), for the report and for failures. */
  readonly logTail: () => string[];
  readonly logLineCount: () => number;
  /** Rejects as soon as the process exits: race it against work that needs Fenpay alive. */
  readonly exited: Promise<never>;
  metricsText(): Promise<string>;
  /** SIGTERM (Fenpay drains in-flight requests and writes), SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stopMs: number }>;
}

export interface FenpayOptions {
  repoDir: string;
  databaseUrl: string;
  port: number;
  dataDir: string;
  /** Fenpay tuning knobs passed through from the benchmark's environment (DB_POOL_SIZE, …). */
  extraEnv: Readonly<Record<string, string>>;
  readyTimeoutMs: number;
}

/** One process; `extraEnv` must carry VAULT_KEYS (production refuses to start without them). */
async function startFenpayProcess(options: FenpayOptions): Promise<FenpayProcess> {
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const env: Record<string, string> = {
    // A minimal environment: nothing of the benchmark's own (DATABASE_URL, NODE_OPTIONS…) leaks in.
    PATH: environmentVariable('PATH') ?? '/usr/bin:/bin',
    HOME: environmentVariable('HOME') ?? options.dataDir,
    NODE_ENV: 'production',
    FENPAY_ENV: 'production',
    DATABASE_URL: options.databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(options.port),
    PUBLIC_URL: baseUrl,
    FENPAY_SEED_DEMO: 'false',
    FENPAY_DATA_DIR: options.dataDir,
    LOG_LEVEL: 'warn',
    ...options.extraEnv,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('bench', 'fenpay-entry.ts')], {
    cwd: options.repoDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not start the Fenpay process');

  const tail: string[] = [];
  let lineCount = 0;
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lineCount += 1;
      tail.push(line.length > 2000 ? `${line.slice(0, 2000)}…` : line);
      if (tail.length > 200) tail.shift();
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitedOnce = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const exited = exitedOnce.then((info) => {
    const why = info.code === 0 ? ' — a clean shutdown, so something sent it SIGTERM or SIGINT' : '';
    throw new Error(`Fenpay exited during the run (code ${info.code}, signal ${info.signal}${why}); last output:\n  ${tail.slice(-20).join('\n  ') || '(none)'}`);
  });
  // Nobody may be racing it yet: an unobserved rejection must not crash the benchmark.
  exited.catch(() => undefined);

  let stopping: Promise<{ code: number | null; signal: NodeJS.Signals | null; stopMs: number }> | undefined;
  const stop = (graceMs = 20_000) => {
    stopping ??= (async () => {
      const started = performance.now();
      if (exitInfo) return { ...exitInfo, stopMs: 0 };
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const info = await exitedOnce;
      clearTimeout(timer);
      return { ...info, stopMs: performance.now() - started };
    })();
    return stopping;
  };

  const fenpay: FenpayProcess = {
    pid: child.pid,
    baseUrl,
    logTail: () => [...tail],
    logLineCount: () => lineCount,
    exited,
    async metricsText() {
      // A fresh connection each time (no keep-alive socket the server may have closed meanwhile), one retry.
      try {
        return await getText(`${baseUrl}/metrics`, 10_000);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 500));
        return await getText(`${baseUrl}/metrics`, 10_000);
      }
    },
    stop,
  };
  try {
    await Promise.race([waitUntilReady(baseUrl, options.readyTimeoutMs), exited]);
  } catch (error) {
    await stop(5_000);
    throw error;
  }
  return fenpay;
}

function getText(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(body) : reject(new Error(`${url} answered ${response.statusCode}`))));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${url} did not answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

async function waitUntilReady(baseUrl: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`Fenpay was not ready within ${timeoutMs} ms`);
}

/**
 * Several Fenpay processes on one machine, as production runs them (stateless, any number of API
 * processes on one database): the first runs every role, the others only the API, each on its own
 * port; the load generator spreads its connections over them as a load balancer would.
 */
export interface FenpayFleet {
  readonly processes: readonly FenpayProcess[];
  readonly pids: readonly number[];
  readonly baseUrls: readonly string[];
  readonly exited: Promise<never>;
  /** Every process's metrics, added up (the event-loop lag is the worst one's). */
  metrics(): Promise<Map<string, number>>;
  logTail(): string[];
  logLineCount(): number;
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stopMs: number }>;
}

export async function startFenpayFleet(options: Omit<FenpayOptions, 'port'> & { ports: readonly number[]; parse: (text: string) => Map<string, number> }): Promise<FenpayFleet> {
  // A throwaway vault key per run, one for the whole fleet: every process must open every card.
  const vaultKeys = options.extraEnv.VAULT_KEYS ?? `bench1:${randomBytes(32).toString('base64')}`;
  const processes: FenpayProcess[] = [];
  try {
    for (const [i, port] of options.ports.entries()) {
      const roles = i === 0 ? (options.extraEnv.FENPAY_ROLES ?? 'api,worker') : 'api';
      processes.push(await startFenpayProcess({ ...options, port, extraEnv: { ...options.extraEnv, VAULT_KEYS: vaultKeys, FENPAY_ROLES: roles } }));
    }
  } catch (error) {
    await Promise.all(processes.map((p) => p.stop(5_000)));
    throw error;
  }
  const exited = Promise.race(processes.map((p) => p.exited));
  exited.catch(() => undefined);
  return {
    processes,
    pids: processes.map((p) => p.pid),
    baseUrls: processes.map((p) => p.baseUrl),
    exited,
    async metrics() {
      const merged = new Map<string, number>();
      for (const text of await Promise.all(processes.map((p) => p.metricsText()))) {
        for (const [series, value] of options.parse(text)) {
          const lag = series.startsWith('fenpay_process_nodejs_eventloop_lag');
          merged.set(series, lag ? Math.max(merged.get(series) ?? value, value) : (merged.get(series) ?? 0) + value);
        }
      }
      return merged;
    },
    logTail: () => processes.flatMap((p, i) => p.logTail().map((line) => (processes.length > 1 ? `[${i}] ${line}` : line))),
    logLineCount: () => processes.reduce((sum, p) => sum + p.logLineCount(), 0),
    async stop(graceMs) {
      const stops = await Promise.all(processes.map((p) => p.stop(graceMs)));
      const failed = stops.find((s) => s.code !== 0);
      return { ...(failed ?? stops[0]!), stopMs: Math.max(...stops.map((s) => s.stopMs)) };
    },
  };
}
