/**
 * `npm run bench`: how many durable, ledgered card payments per second Fenpay confirms for one hot
 * merchant, next to what pgbench's TPC-B commits per second on the same PostgreSQL in the same run.
 *
 *   1. PostgreSQL: DATABASE_URL's server (fresh databases, dropped afterwards) or an embedded one.
 *   2. Fenpay in a child process; one merchant and secret key through the merchants room.
 *   3. pgbench -i -s 10, then -c 32 -j 2 -T 20 on its own database while Fenpay is idle.
 *   4. Warm-up, phase (a) 100 connections, phase (b) 1,000 connections with a 2 s timeout.
 *   5. Fenpay stops (draining its writes); the ledger and every acknowledged payment are verified.
 *   6. Summary printed and written to bench/results/<timestamp>.json and .md.
 *
 * Every loop ends by itself, a watchdog ends the run, and cleanup (child processes, databases, the
 * embedded server) runs on success, failure and signals. See bench/README.md for the knobs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { environmentVariable } from '../src/config/index.ts';
import { connectDatabase, freePort } from '../src/db/index.ts';
import { createMerchant, issueApiKey } from '../src/merchants/index.ts';
import { CleanupStack } from './cleanup-stack.ts';
import { describeMachine, evaluateTargets, renderMarkdown, type BenchReport, type MeasuredPhase } from './bench-report.ts';
import { startFenpayFleet } from './fenpay-process.ts';
import { runLoadPhase, type LoadPhaseOptions } from './load-phase.ts';
import { findPgbench, initPgbench, killRunningTools, runPgbench, type PgbenchOptions, type PgbenchResult } from './pgbench.ts';
import { checkpoint, openPostgresServer, readServerSettings } from './postgres-server.ts';
import {
  cpuSnapshot,
  cpuUsageBetween,
  fenpayMetricsBetween,
  parseMetrics,
  pgCountersBetween,
  postmasterPidOf,
  readPgCounters,
  readTcpCounters,
  tcpCountersBetween,
  type CpuUsage,
} from './resource-usage.ts';
import { verifyRun } from './verify-run.ts';

const repoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = path.join(repoDir, 'bench', 'results');

function intOption(name: string, fallback: number, min: number, max: number): number {
  const raw = environmentVariable(name);
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  return value;
}

const options = {
  warmupSeconds: intOption('BENCH_WARMUP_SECONDS', 3, 1, 60),
  aConnections: intOption('BENCH_A_CONNECTIONS', 100, 1, 5000),
  aSeconds: intOption('BENCH_A_SECONDS', 20, 1, 120),
  bConnections: intOption('BENCH_B_CONNECTIONS', 1000, 1, 5000),
  bSeconds: intOption('BENCH_B_SECONDS', 15, 1, 120),
  bTimeoutSeconds: 2,
  pgbenchSeconds: intOption('BENCH_PGBENCH_SECONDS', 20, 1, 120),
  pgbenchScale: 10,
  pgbenchClients: 32,
  pgbenchThreads: 2,
  /** Fenpay processes (the first runs every role, the others the API): one per core by default, as Node services are deployed. */
  fenpayProcesses: intOption('BENCH_FENPAY_PROCESSES', Math.min(os.availableParallelism(), 8), 1, 32),
  /** Let abandoned in-flight requests finish and PostgreSQL publish its statistics. */
  settleMs: 2_000,
  /** The whole run, whatever happens. */
  deadlineMs: intOption('BENCH_DEADLINE_SECONDS', 360, 60, 3600) * 1000,
  enforceTargets: ['1', 'true', 'yes'].includes(environmentVariable('BENCH_ENFORCE_TARGETS') ?? ''),
};

/** Fenpay's own knobs the benchmark passes through to the child when set (see src/config). */
const passThroughKnobs = ['DB_POOL_SIZE', 'WRITE_BATCH_CONCURRENCY', 'WRITE_BATCH_SIZE_MAX', 'WORKER_CONCURRENCY', 'FENPAY_ROLES', 'CHANNEL_FEE_BPS', 'UV_THREADPOOL_SIZE'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function stampOf(date: Date): string {
  // 2025-11-22T01:13:00.123Z → 20251122t011300z: valid in a file name and as a database name.
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '').toLowerCase();
}

async function main(): Promise<number> {
  const started = new Date();
  const stamp = stampOf(started);
  const cleanup = new CleanupStack();
  const machine = describeMachine(repoDir);

  const abort = (why: string, code: number) => {
    console.error(`\n${why}: cleaning up`);
    killRunningTools();
    void cleanup.run().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('interrupted', 130));
  process.once('SIGTERM', () => abort('terminated', 143));
  setTimeout(() => abort(`the run exceeded its ${options.deadlineMs / 1000} s deadline`, 1), options.deadlineMs).unref();

  try {
    const startedMs = performance.now();
    const log = (message: string) => console.log(`[bench ${((performance.now() - startedMs) / 1000).toFixed(1).padStart(5)} s] ${message}`);

    // Other processes compete for the same CPUs: measure them first, so a noisy run is visible as one.
    const quiet0 = cpuSnapshot({ fenpay: [], postmaster: undefined });
    await sleep(2_000);
    const background = cpuUsageBetween(quiet0, cpuSnapshot({ fenpay: [], postmaster: undefined }), machine.cpus).otherCores;
    log(`background CPU use by other processes: ${background?.toFixed(2) ?? '–'} of ${machine.cpus} cores`);

    // 1. PostgreSQL and two fresh databases.
    const databaseUrl = environmentVariable('DATABASE_URL') || undefined;
    log(databaseUrl ? 'using the PostgreSQL server of DATABASE_URL' : 'DATABASE_URL is not set: starting an embedded PostgreSQL');
    const server = await openPostgresServer({ databaseUrl });
    cleanup.push('stop PostgreSQL', () => server.stop());
    const benchDatabase = `fenpay_bench_${stamp}`;
    const pgbenchDatabase = `fenpay_pgbench_${stamp}`;
    await server.createDatabase(benchDatabase);
    cleanup.push(`drop ${benchDatabase}`, () => server.dropDatabase(benchDatabase));
    await server.createDatabase(pgbenchDatabase);
    cleanup.push(`drop ${pgbenchDatabase}`, () => server.dropDatabase(pgbenchDatabase));
    const benchUrl = server.urlFor(benchDatabase);
    const settings = await readServerSettings(benchUrl);
    const pgbenchSettings = await readServerSettings(server.urlFor(pgbenchDatabase));
    log(`PostgreSQL ${settings.serverVersion} on ${server.host}:${server.port}; SHOW synchronous_commit = ${settings.synchronousCommit} (pgbench database: ${pgbenchSettings.synchronousCommit}); fsync = ${settings.fsync}`);
    // Both sides must wait for the WAL flush before acknowledging, or the comparison means nothing.
    for (const value of [settings.synchronousCommit, pgbenchSettings.synchronousCommit]) {
      if (value !== 'on') throw new Error(`synchronous_commit must be on for the benchmark, got "${value}"`);
    }
    if (settings.fsync !== 'on') console.warn('warning: fsync is off on this server: commits are not durable and the numbers are not comparable');
    const postmasterPid = postmasterPidOf(settings.checkpointerPid);

    // 2. Fenpay in its own processes, then one merchant and its secret key.
    const fenpayDataDir = mkdtempSync(path.join(os.tmpdir(), 'fenpay-bench-data-'));
    cleanup.push('remove the Fenpay data folder', async () => rmSync(fenpayDataDir, { recursive: true, force: true }));
    const knobs: Record<string, string> = {};
    for (const name of passThroughKnobs) {
      const value = environmentVariable(name);
      if (value !== undefined && value !== '') knobs[name] = value;
    }
    // Two group commits in flight in total, as one process has by default: more batches in flight only
    // make each smaller (bench/README.md), so several processes share the two.
    knobs.WRITE_BATCH_CONCURRENCY ??= String(Math.max(1, Math.ceil(2 / options.fenpayProcesses)));
    const nodeOptions = environmentVariable('BENCH_FENPAY_NODE_OPTIONS');
    if (nodeOptions) knobs.NODE_OPTIONS = nodeOptions;
    const ports: number[] = [];
    while (ports.length < options.fenpayProcesses) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    log(`starting ${ports.length} Fenpay process${ports.length > 1 ? 'es' : ''} on 127.0.0.1:${ports.join(', ')}${Object.keys(knobs).length > 0 ? ` with ${JSON.stringify(knobs)}` : ''}`);
    const fenpay = await startFenpayFleet({ repoDir, databaseUrl: benchUrl, ports, dataDir: fenpayDataDir, extraEnv: knobs, readyTimeoutMs: 90_000, parse: parseMetrics });
    cleanup.push('stop Fenpay', async () => void (await fenpay.stop()));
    const database = connectDatabase({ url: benchUrl, poolSize: 4, applicationName: 'fenpay-bench' });
    cleanup.push('close the benchmark pool', () => database.close());
    const merchant = await createMerchant(database.db, { name: 'Bench Hot Shop', defaultCurrency: 'usd' });
    const secretKey = (await issueApiKey(database.db, { merchantId: merchant.id, kind: 'secret', livemode: false })).key;
    const acknowledgedIds: string[] = [];
    for (const baseUrl of fenpay.baseUrls) acknowledgedIds.push(await smokePayment(baseUrl, secretKey));
    log(`Fenpay is up (pid ${fenpay.pids.join(', ')}); merchant ${merchant.id}; a smoke payment succeeded on each process`);

    // 3. pgbench on the same server while Fenpay is idle.
    let pgbench: PgbenchResult | { skipped: string };
    let pgbenchCpu: CpuUsage | undefined;
    const binary = findPgbench();
    if (binary === undefined) {
      pgbench = { skipped: 'pgbench was not found (set PGBENCH=/path/to/pgbench)' };
      log(`pgbench skipped: ${pgbench.skipped}`);
    } else {
      log(`pgbench -i -s ${options.pgbenchScale}, then -c ${options.pgbenchClients} -j ${options.pgbenchThreads} -T ${options.pgbenchSeconds} (${binary})`);
      const pgbenchOptions: PgbenchOptions = {
        binary,
        target: { host: server.host, port: server.port, user: server.user, password: server.password, database: pgbenchDatabase },
        scale: options.pgbenchScale,
        clients: options.pgbenchClients,
        threads: options.pgbenchThreads,
        durationSeconds: options.pgbenchSeconds,
      };
      const initSeconds = await Promise.race([initPgbench(pgbenchOptions), fenpay.exited]);
      await checkpoint(benchUrl);
      const cpu0 = cpuSnapshot({ fenpay: fenpay.pids, postmaster: postmasterPid });
      pgbench = await Promise.race([runPgbench({ ...pgbenchOptions, initSeconds }), fenpay.exited]);
      pgbenchCpu = cpuUsageBetween(cpu0, cpuSnapshot({ fenpay: fenpay.pids, postmaster: postmasterPid }), machine.cpus);
      log(`pgbench: ${pgbench.tps.toFixed(1)} tps (latency average ${pgbench.latencyAverageMs ?? '–'} ms; PostgreSQL ${pgbenchCpu.postgresCores?.toFixed(2) ?? '–'} cores, pgbench client ${pgbenchCpu.toolsCores?.toFixed(2) ?? '–'} cores)`);
    }

    // 4. Load.
    await checkpoint(benchUrl);
    const phase = (name: string, connections: number, durationSeconds: number, timeoutSeconds: number): LoadPhaseOptions => ({
      name,
      baseUrls: fenpay.baseUrls,
      secretKey,
      connections,
      durationSeconds,
      timeoutSeconds,
    });
    log(`warm-up: ${options.aConnections} connections for ${options.warmupSeconds} s`);
    const warmup = await Promise.race([runLoadPhase(phase('warm-up', options.aConnections, options.warmupSeconds, 10), acknowledgedIds), fenpay.exited]);
    await sleep(options.settleMs);

    const measure = async (load: LoadPhaseOptions): Promise<MeasuredPhase> => {
      log(`phase ${load.name}: ${load.connections} connections for ${load.durationSeconds} s, timeout ${load.timeoutSeconds} s`);
      const metrics0 = await fenpay.metrics();
      const pg0 = await readPgCounters(database.pool, benchDatabase);
      const tcp0 = readTcpCounters();
      const cpu0 = cpuSnapshot({ fenpay: fenpay.pids, postmaster: postmasterPid });
      const result = await Promise.race([runLoadPhase(load, acknowledgedIds), fenpay.exited]);
      const cpu1 = cpuSnapshot({ fenpay: fenpay.pids, postmaster: postmasterPid });
      const tcp = tcpCountersBetween(tcp0, readTcpCounters());
      await sleep(options.settleMs);
      const metrics1 = await fenpay.metrics();
      const pg1 = await readPgCounters(database.pool, benchDatabase);
      const postgres = pgCountersBetween(pg0, pg1);
      const fenpayDelta = fenpayMetricsBetween(metrics0, metrics1);
      const measured: MeasuredPhase = {
        load: result,
        cpu: cpuUsageBetween(cpu0, cpu1, machine.cpus),
        postgres,
        fenpay: fenpayDelta,
        tcp,
        commitsPerRequest: fenpayDelta.serverRequests > 0 ? postgres.xactCommit / fenpayDelta.serverRequests : undefined,
        walSyncsPerSecond: postgres.walSyncs === undefined ? undefined : postgres.walSyncs / result.durationSeconds,
      };
      log(
        `phase ${load.name}: ${result.paymentsPerSecond.toFixed(1)} payments/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ` +
          `errors ${result.errors} (non-2xx ${result.non2xx}, timeouts ${result.timeouts}, socket ${result.socketErrors}), ` +
          `mean batch ${measured.fenpay.meanBatchSize?.toFixed(1) ?? '–'} write sets`,
      );
      return measured;
    };
    const a = await measure(phase('(a)', options.aConnections, options.aSeconds, 10));
    const b = await measure(phase('(b)', options.bConnections, options.bSeconds, options.bTimeoutSeconds));

    // 5. Stop Fenpay (it drains every accepted write), then verify.
    const logLines = fenpay.logLineCount();
    const logTail = fenpay.logTail().slice(-10);
    const stop = await fenpay.stop();
    log(`Fenpay stopped (code ${stop.code}, signal ${stop.signal}, ${stop.stopMs.toFixed(0)} ms); verifying ${acknowledgedIds.length} acknowledged payments and the ledger`);
    const verification = await verifyRun(database.db, { merchantId: merchant.id, acknowledgedIds });

    // 6. Report.
    const { ratio, targets } = evaluateTargets({ a: a.load, b: b.load, pgbenchTps: 'tps' in pgbench ? pgbench.tps : undefined });
    const finished = new Date();
    const report: BenchReport = {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds: (finished.getTime() - started.getTime()) / 1000,
      machine: { ...machine, backgroundCoresAtStart: background },
      postgres: { kind: server.kind, settings, benchDatabase, pgbenchDatabase },
      fenpay: { processes: fenpay.pids.length, env: knobs, logLines, logTail, stop },
      pgbench,
      pgbenchCpu,
      phases: { warmup, a, b },
      ratio,
      targets,
      verification,
    };
    const markdown = renderMarkdown(report);
    mkdirSync(resultsDir, { recursive: true });
    const base = path.join(resultsDir, stamp);
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${base}.md`, markdown);
    console.log(`\n${markdown}`);
    console.log(`Results: ${path.relative(process.cwd(), `${base}.json`)} and .md`);

    if (!verification.ok) {
      console.error('VERIFICATION FAILED: see the Verification section above');
      return 1;
    }
    if (stop.code !== 0) {
      console.error(`Fenpay did not stop cleanly (code ${stop.code}, signal ${stop.signal})`);
      return 1;
    }
    if (options.enforceTargets && targets.some((t) => t.pass === false)) return 3;
    return 0;
  } finally {
    killRunningTools();
    await cleanup.run();
  }
}

/** One payment before the load: a wrong key or a broken build fails here with the actual answer. */
async function smokePayment(baseUrl: string, secretKey: string): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/payment_intents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': `bench-smoke-${Date.now()}` },
    body: 'amount=1099&currency=usd&payment_method=pm_card_visa&confirm=true',
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { id?: string; status?: string };
  if (response.status !== 200 || body.status !== 'succeeded' || body.id === undefined) {
    throw new Error(`the smoke payment did not succeed: ${response.status} ${JSON.stringify(body)}`);
  }
  return body.id;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    // fetch and pg put the actual reason (ECONNRESET, …) in `cause`.
    if (error instanceof Error && error.cause !== undefined) console.error('cause:', error.cause);
    process.exit(1);
  },
);
