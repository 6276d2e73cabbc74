/**
 * The result of one run as data (JSON) and as a page a person reads (Markdown, also printed).
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import type { LoadPhaseResult } from './load-phase.ts';
import type { PgbenchResult } from './pgbench.ts';
import type { ServerSettings } from './postgres-server.ts';
import type { CpuUsage, FenpayMetricsDelta, PgCounters, TcpCounters } from './resource-usage.ts';
import type { Verification } from './verify-run.ts';

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryBytes: number;
  readonly os: string;
  readonly node: string;
  readonly gitCommit: string | undefined;
  readonly gitDirty: boolean | undefined;
  readonly loadAverageAtStart: readonly number[];
  /** CPU other processes used during the 2 s before the run (cores). */
  readonly backgroundCoresAtStart?: number | undefined;
}

export function describeMachine(repoDir: string): Machine {
  const git = (args: string[]) => {
    const out = spawnSync('git', args, { cwd: repoDir, encoding: 'utf8' });
    return out.status === 0 ? out.stdout.trim() : undefined;
  };
  const status = git(['status', '--porcelain']);
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    gitCommit: git(['rev-parse', 'HEAD']),
    gitDirty: status === undefined ? undefined : status !== '',
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}

export interface MeasuredPhase {
  readonly load: LoadPhaseResult;
  readonly cpu: CpuUsage;
  readonly postgres: PgCounters;
  readonly fenpay: FenpayMetricsDelta;
  readonly tcp: TcpCounters;
  /** Database transactions committed per request Fenpay finished (reads outside batches included). */
  readonly commitsPerRequest: number | undefined;
  readonly walSyncsPerSecond: number | undefined;
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly actual: string;
  /** undefined: could not be evaluated (e.g. pgbench missing). */
  readonly pass: boolean | undefined;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly machine: Machine;
  readonly postgres: { readonly kind: 'external' | 'embedded'; readonly settings: ServerSettings; readonly benchDatabase: string; readonly pgbenchDatabase: string };
  readonly fenpay: {
    /** Fenpay processes serving the load (the first also runs the worker). */
    readonly processes: number;
    readonly env: Readonly<Record<string, string>>;
    readonly logLines: number;
    readonly logTail: readonly string[];
    readonly stop: { readonly code: number | null; readonly signal: string | null; readonly stopMs: number } | undefined;
  };
  readonly pgbench: PgbenchResult | { readonly skipped: string };
  readonly pgbenchCpu: CpuUsage | undefined;
  readonly phases: { readonly warmup: LoadPhaseResult; readonly a: MeasuredPhase; readonly b: MeasuredPhase };
  /** Phase (a) payments/s ÷ pgbench tps. */
  readonly ratio: number | undefined;
  readonly targets: readonly Target[];
  readonly verification: Verification;
}

export function evaluateTargets(input: { a: LoadPhaseResult; b: LoadPhaseResult; pgbenchTps: number | undefined }): { ratio: number | undefined; targets: Target[] } {
  const { a, b, pgbenchTps } = input;
  const ratio = pgbenchTps === undefined || pgbenchTps === 0 ? undefined : a.paymentsPerSecond / pgbenchTps;
  return {
    ratio,
    targets: [
      {
        name: '(a) throughput',
        goal: 'payments/s ≥ 1.5 × pgbench tps',
        actual: ratio === undefined ? `${fmt(a.paymentsPerSecond)} payments/s, pgbench not run` : `${fmt(a.paymentsPerSecond)} payments/s = ${ratio.toFixed(2)} × ${fmt(pgbenchTps!)} tps`,
        pass: ratio === undefined ? undefined : ratio >= 1.5,
      },
      { name: '(a) latency', goal: 'p99 < 200 ms', actual: `p99 ${a.latencyMs.p99} ms`, pass: a.latencyMs.p99 < 200 && a.responses > 0 },
      {
        name: '(b) 1,000 connections',
        goal: '≥ 95% of requests succeed within 2 s',
        actual: `${pct(b.succeededRatio)} (${b.succeeded} of ${b.responses + b.timeouts + b.socketErrors})`,
        pass: b.succeededRatio >= 0.95,
      },
    ],
  };
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const opt = (n: number | undefined, digits = 1) => (n === undefined ? '–' : n.toFixed(digits));
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
/** Cores ÷ units per second = CPU milliseconds per unit. */
const perUnit = (cores: number | undefined, perSecond: number) => (cores === undefined || perSecond <= 0 ? '–' : ((cores / perSecond) * 1000).toFixed(2));
const verdict = (pass: boolean | undefined) => (pass === undefined ? 'not evaluated' : pass ? 'PASS' : 'FAIL');

export function renderMarkdown(report: BenchReport): string {
  const { machine, postgres, pgbench, phases, verification } = report;
  const s = postgres.settings;
  const lines: string[] = [];
  lines.push(`# Fenpay payments benchmark — ${report.startedAt}`, '');
  lines.push(
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${mib(machine.memoryBytes)} RAM, ${machine.os}; Node ${machine.node}; ` +
      `commit ${machine.gitCommit?.slice(0, 12) ?? 'unknown'}${machine.gitDirty ? ' (uncommitted changes)' : ''}; load average at start ${machine.loadAverageAtStart.join(' ')}; ` +
      `other processes used ${opt(machine.backgroundCoresAtStart, 2)} cores just before the run (see "other processes" below: CPU the benchmark did not use).`,
    '',
  );
  lines.push(
    `PostgreSQL ${s.serverVersion} (${postgres.kind === 'embedded' ? 'embedded, temporary data directory' : 'DATABASE_URL server'}): ` +
      `synchronous_commit=**${s.synchronousCommit}**, fsync=${s.fsync}, wal_sync_method=${s.walSyncMethod}, full_page_writes=${s.fullPageWrites}, ` +
      `commit_delay=${s.commitDelay}, shared_buffers=${s.sharedBuffers}, max_connections=${s.maxConnections}.`,
    '',
  );
  const knobs = Object.entries(report.fenpay.env);
  lines.push(`Fenpay: ${report.fenpay.processes === 1 ? 'one process' : `${report.fenpay.processes} processes (the first with the worker role, the others API only; the load spreads its connections over them)`}, separate from the load generator, FENPAY_ENV=production, LOG_LEVEL=warn${knobs.length > 0 ? `, ${knobs.map(([k, v]) => `${k}=${v}`).join(', ')}` : ' (default knobs)'}. One merchant, one secret key, every request \`POST /v1/payment_intents\` amount=random&currency=usd&payment_method=pm_card_visa&confirm=true with its own Idempotency-Key.`, '');

  lines.push('## Targets', '', '| target | goal | actual | result |', '|---|---|---|---|');
  for (const t of report.targets) lines.push(`| ${t.name} | ${t.goal} | ${t.actual} | **${verdict(t.pass)}** |`);
  lines.push('', `Ratio Fenpay payments/s ÷ pgbench tps: **${report.ratio === undefined ? '–' : report.ratio.toFixed(2)}**`, '');

  lines.push('## pgbench (TPC-B, same server, Fenpay idle)', '');
  if ('skipped' in pgbench) lines.push(`Skipped: ${pgbench.skipped}`, '');
  else {
    lines.push(
      `\`pgbench -i -s ${pgbench.scale}\` (${pgbench.initSeconds.toFixed(1)} s), then \`pgbench -c ${pgbench.clients} -j ${pgbench.threads} -T ${pgbench.durationSeconds}\`: ` +
        `**${pgbench.tps.toFixed(1)} tps**, latency average ${opt(pgbench.latencyAverageMs, 2)} ms, ${pgbench.transactions ?? '–'} transactions, ${pgbench.failedTransactions ?? 0} failed (${pgbench.version}).`,
      '',
    );
    const c = report.pgbenchCpu;
    if (c) {
      lines.push(
        `During the run PostgreSQL used ${opt(c.postgresCores, 2)} cores (${perUnit(c.postgresCores, pgbench.tps)} ms CPU per transaction), the pgbench client ${opt(c.toolsCores, 2)}, ` +
          `idle Fenpay ${opt(c.fenpayCores, 2)}, other processes ${opt(c.otherCores, 2)}; machine busy ${opt(c.systemBusyCores, 2)} of ${c.cores} cores, iowait ${opt(c.iowaitCores, 2)}.`,
        '',
      );
    }
  }

  lines.push('## Load phases', '');
  lines.push('| phase | conns | s | payments/s | succeeded | p50 ms | p90 ms | p99 ms | max ms | non-2xx | timeouts | socket errors | 200 not succeeded | in flight at end |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const row = (label: string, p: LoadPhaseResult) =>
    lines.push(
      `| ${label} | ${p.connections} | ${p.durationSeconds} | **${fmt(p.paymentsPerSecond)}** | ${p.succeeded} (${pct(p.succeededRatio)}) | ${p.latencyMs.p50} | ${p.latencyMs.p90} | ${p.latencyMs.p99} | ${p.latencyMs.max} | ${p.non2xx} | ${p.timeouts} | ${p.socketErrors} | ${p.okNotSucceeded} | ${p.inFlightAtEnd} |`,
    );
  row('warm-up', phases.warmup);
  row('(a)', phases.a.load);
  row('(b)', phases.b.load);
  lines.push('');
  for (const [label, p] of [['(a)', phases.a.load], ['(b)', phases.b.load]] as const) {
    if (p.sampleErrors.length > 0) lines.push(`Error samples ${label}: ${p.sampleErrors.map((e) => `\`${e.replaceAll('`', "'").replaceAll('|', '¦')}\``).join('; ')}`, '');
  }

  lines.push('## Where the time went', '');
  lines.push('CPU in cores (1.00 = one core busy for the whole phase); "other processes" is CPU neither Fenpay, PostgreSQL nor the load generator used.', '');
  lines.push('| phase | Fenpay CPU | PostgreSQL CPU | load generator CPU | other processes (irq+softirq, machine-wide) | machine busy / cores | iowait | Fenpay CPU ms per payment | PostgreSQL CPU ms per payment | Fenpay server mean ms | event-loop lag p99 ms | write batches/s | mean write sets per batch | mean batch ms | commits per request | WAL fsyncs/s | checkpoints | TCP listen overflows |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [label, p] of [['(a)', phases.a], ['(b)', phases.b]] as const) {
    const seconds = p.load.durationSeconds;
    lines.push(
      `| ${label} | ${opt(p.cpu.fenpayCores, 2)} | ${opt(p.cpu.postgresCores, 2)} | ${p.cpu.loadGeneratorCores.toFixed(2)} | ${opt(p.cpu.otherCores, 2)} (${opt(p.cpu.irqCores, 2)}) | ${opt(p.cpu.systemBusyCores, 2)} / ${p.cpu.cores} | ${opt(p.cpu.iowaitCores, 2)} | ` +
        `${perUnit(p.cpu.fenpayCores, p.load.paymentsPerSecond)} | ${perUnit(p.cpu.postgresCores, p.load.paymentsPerSecond)} | ` +
        `${opt(p.fenpay.serverMeanMs)} | ${opt(p.fenpay.eventLoopLagP99Ms)} | ${(p.fenpay.batches / seconds).toFixed(0)} | ${opt(p.fenpay.meanBatchSize)} | ${opt(p.fenpay.meanBatchMs)} | ` +
        `${opt(p.commitsPerRequest, 2)} | ${opt(p.walSyncsPerSecond, 0)} | ${p.postgres.checkpoints ?? '–'} | ${p.tcp.listenOverflows ?? '–'} |`,
    );
  }
  lines.push('');
  for (const [label, p] of [['(a)', phases.a], ['(b)', phases.b]] as const) {
    const histogram = Object.entries(p.fenpay.batchSizeHistogram).filter(([, n]) => n > 0).map(([bucket, n]) => `${bucket}: ${n}`).join(', ');
    lines.push(`Write sets per batch ${label}: ${histogram || '–'}`);
  }
  lines.push('');

  lines.push('## Verification', '');
  const l = verification.ledger;
  lines.push(`- Ledger (auditLedger): **${verdict(l.ok)}** — ${l.totals.map((t) => `${t.currency}${t.livemode ? ' live' : ' test'}: debits ${t.debitsPosted} = credits ${t.creditsPosted} posted, ${t.debitsPending} = ${t.creditsPending} pending${t.balanced ? '' : ' (UNBALANCED)'}`).join('; ') || 'no transfers'}; bucket mismatches ${l.bucketMismatches}; negative accounts ${l.negativeAccounts}; open holds ${l.openPendingTransfers}.`);
  const a = verification.acknowledged;
  lines.push(`- Acknowledged payments: **${verdict(a.ok)}** — ${a.acknowledged} acknowledged (all phases and the smoke request), ${a.duplicateAcknowledgements} duplicates, ${a.missing} missing, ${a.notSucceeded} not succeeded, ${a.chargeCountWrong} without exactly one charge transfer, ${a.chargeAmountWrong} with a wrong charge amount.${a.examples.length > 0 ? ` Examples: ${a.examples.join('; ')}` : ''}`);
  const d = verification.database;
  lines.push(`- Database: **${verdict(d.ok)}** — ${d.succeededInDatabase} succeeded PaymentIntents ≥ ${a.acknowledged} acknowledged; ${d.chargeTransfers} charge transfers; by status: ${Object.entries(d.intentsByStatus).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  const stop = report.fenpay.stop;
  lines.push(`- Fenpay stopped with ${stop ? `code ${stop.code} signal ${stop.signal} after ${stop.stopMs.toFixed(0)} ms` : 'no clean stop'}; it wrote ${report.fenpay.logLines} log lines at warn or above.`);
  lines.push('', `Run took ${report.durationSeconds.toFixed(0)} s.`, '');
  return lines.join('\n');
}
