/**
 * The yardstick: pgbench's TPC-B-like script on the same server, same run, default (durable) commits.
 * It says how many small durable read-write transactions this machine's PostgreSQL commits per second
 * when every client commits its own — the ceiling a one-transaction-per-payment design would hit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { environmentVariable } from '../src/config/index.ts';

export interface PgbenchTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
}

export interface PgbenchResult {
  readonly binary: string;
  readonly version: string;
  readonly scale: number;
  readonly clients: number;
  readonly threads: number;
  readonly durationSeconds: number;
  readonly initSeconds: number;
  readonly tps: number;
  readonly latencyAverageMs: number | undefined;
  readonly transactions: number | undefined;
  readonly failedTransactions: number | undefined;
}

/** PGBENCH, then the distribution's paths (newest major first), then PATH. */
export function findPgbench(): string | undefined {
  const candidates: string[] = [];
  const configured = environmentVariable('PGBENCH');
  if (configured) candidates.push(configured);
  candidates.push('/usr/bin/pgbench');
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const major of majors) candidates.push(path.join(root, major, 'bin', 'pgbench'));
  }
  for (const dir of (environmentVariable('PATH') ?? '').split(':')) if (dir) candidates.push(path.join(dir, 'pgbench'));
  return candidates.find((c) => existsSync(c));
}

export interface PgbenchOptions {
  readonly binary: string;
  readonly target: PgbenchTarget;
  readonly scale: number;
  readonly clients: number;
  readonly threads: number;
  readonly durationSeconds: number;
}

const connectionArgs = (target: PgbenchTarget) => ['-h', target.host, '-p', String(target.port), '-U', target.user];

/** `pgbench -i -s <scale>`: creates and fills the four TPC-B tables; returns the seconds it took. */
export async function initPgbench(options: PgbenchOptions): Promise<number> {
  const started = performance.now();
  await runTool(options.binary, ['-i', '-s', String(options.scale), '-q', ...connectionArgs(options.target), options.target.database], {
    password: options.target.password,
    timeoutMs: 180_000,
  });
  return (performance.now() - started) / 1000;
}

/** The measured run: `pgbench -c <clients> -j <threads> -T <seconds>`, built-in TPC-B-like script. */
export async function runPgbench(options: PgbenchOptions & { initSeconds: number }): Promise<PgbenchResult> {
  const { binary, target } = options;
  const version = (await runTool(binary, ['--version'], { timeoutMs: 10_000 })).stdout.trim();
  const run = await runTool(
    binary,
    ['-c', String(options.clients), '-j', String(options.threads), '-T', String(options.durationSeconds), ...connectionArgs(target), target.database],
    { password: target.password, timeoutMs: (options.durationSeconds + 60) * 1000 },
  );
  const number = (pattern: RegExp) => {
    const match = pattern.exec(run.stdout);
    return match ? Number(match[1]) : undefined;
  };
  const tps = number(/^tps = ([\d.]+) \(without initial connection time\)/m) ?? number(/^tps = ([\d.]+)/m);
  if (tps === undefined) throw new Error(`could not read tps from pgbench output:\n${run.stdout}\n${run.stderr}`);
  return {
    binary,
    version,
    scale: options.scale,
    clients: options.clients,
    threads: options.threads,
    durationSeconds: options.durationSeconds,
    initSeconds: options.initSeconds,
    tps,
    latencyAverageMs: number(/^latency average = ([\d.]+) ms/m),
    transactions: number(/^number of transactions actually processed: (\d+)/m),
    failedTransactions: number(/^number of failed transactions: (\d+)/m),
  };
}

const running = new Set<ChildProcess>();

/** Kills pgbench if it is still running (cleanup after a failure or a signal). */
export function killRunningTools(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Spawns a tool with a minimal environment and a hard time limit; rejects on a non-zero exit. */
async function runTool(binary: string, args: string[], options: { password?: string | undefined; timeoutMs: number }): Promise<{ stdout: string; stderr: string }> {
  const env: Record<string, string> = { PATH: environmentVariable('PATH') ?? '/usr/bin:/bin' };
  if (options.password !== undefined) env.PGPASSWORD = options.password;
  return await new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      if (timedOut) reject(new Error(`${path.basename(binary)} ${args.join(' ')} took longer than ${options.timeoutMs} ms and was killed`));
      else if (code !== 0) reject(new Error(`${path.basename(binary)} ${args.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}`));
      else resolve({ stdout, stderr });
    });
  });
}
