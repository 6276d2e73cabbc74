/**
 * Where the time went during a phase: CPU of Fenpay, of PostgreSQL (the postmaster's whole process
 * tree), of the load generator and of everything else on the machine (from /proc, Linux only);
 * PostgreSQL's commit and WAL counters; Fenpay's own write-batch and latency metrics.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type pg from 'pg';

const clockTicksPerSecond = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(out.stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
})();

interface ProcStat {
  readonly ppid: number;
  /** utime + stime, seconds. */
  readonly own: number;
  /** cutime + cstime: reaped children (PostgreSQL backends that already exited), seconds. */
  readonly children: number;
}

function readProcStat(pid: number | string): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state ppid … utime(14) stime(15) cutime(16) cstime(17), numbered from 1.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const at = (field: number) => Number(fields[field - 3]);
    return { ppid: at(4), own: (at(14) + at(15)) / clockTicksPerSecond, children: (at(16) + at(17)) / clockTicksPerSecond };
  } catch {
    return undefined;
  }
}

/** The postmaster is the parent of every server process. */
export function postmasterPidOf(serverProcessPid: number | undefined): number | undefined {
  return serverProcessPid === undefined ? undefined : readProcStat(serverProcessPid)?.ppid;
}

export interface CpuSnapshot {
  readonly atMs: number;
  readonly fenpaySeconds: number | undefined;
  readonly postgresSeconds: number | undefined;
  readonly benchSeconds: number;
  /** Children of the benchmark process that have exited (pgbench), seconds. */
  readonly toolsSeconds: number | undefined;
  readonly systemBusySeconds: number | undefined;
  readonly systemIowaitSeconds: number | undefined;
  /** Interrupt and softirq time, mostly the kernel's network stack (machine-wide). */
  readonly systemIrqSeconds: number | undefined;
}

export function cpuSnapshot(pids: { fenpay: readonly number[]; postmaster: number | undefined }): CpuSnapshot {
  const own = pids.fenpay.map((pid) => readProcStat(pid)?.own);
  const fenpay = own.length === 0 || own.includes(undefined) ? undefined : own.reduce<number>((sum, x) => sum + x!, 0);
  let postgres: number | undefined;
  if (pids.postmaster !== undefined) {
    const master = readProcStat(pids.postmaster);
    if (master) {
      postgres = master.own + master.children;
      for (const entry of safeReaddir('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = readProcStat(entry);
        if (stat?.ppid === pids.postmaster) postgres += stat.own;
      }
    }
  }
  const usage = process.cpuUsage();
  let busy: number | undefined;
  let iowait: number | undefined;
  let irq: number | undefined;
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu  user nice system idle iowait irq softirq steal …
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const at = (i: number) => ticks[i] ?? 0;
    busy = (at(0) + at(1) + at(2) + at(5) + at(6) + at(7)) / clockTicksPerSecond;
    iowait = at(4) / clockTicksPerSecond;
    irq = (at(5) + at(6)) / clockTicksPerSecond;
  } catch {
    busy = undefined;
  }
  return {
    atMs: performance.now(),
    fenpaySeconds: fenpay,
    postgresSeconds: postgres,
    benchSeconds: (usage.user + usage.system) / 1e6,
    toolsSeconds: readProcStat('self')?.children,
    systemBusySeconds: busy,
    systemIowaitSeconds: iowait,
    systemIrqSeconds: irq,
  };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** CPU used between two snapshots, in cores (1.0 = one core fully busy). */
export interface CpuUsage {
  readonly fenpayCores: number | undefined;
  readonly postgresCores: number | undefined;
  readonly loadGeneratorCores: number;
  /** pgbench's own client CPU (counted once it has exited). */
  readonly toolsCores: number | undefined;
  /** Everything else on the machine (other users' processes included): a noisy-neighbour flag. */
  readonly otherCores: number | undefined;
  readonly systemBusyCores: number | undefined;
  readonly iowaitCores: number | undefined;
  /** Part of "other": interrupts and softirqs (TCP work for SYN floods and reconnect storms shows here). */
  readonly irqCores: number | undefined;
  readonly cores: number;
}

export function cpuUsageBetween(a: CpuSnapshot, b: CpuSnapshot, cores: number): CpuUsage {
  const seconds = (b.atMs - a.atMs) / 1000;
  const rate = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : (y - x) / seconds);
  const fenpay = rate(a.fenpaySeconds, b.fenpaySeconds);
  const postgres = rate(a.postgresSeconds, b.postgresSeconds);
  const bench = (b.benchSeconds - a.benchSeconds) / seconds;
  const tools = rate(a.toolsSeconds, b.toolsSeconds);
  const busy = rate(a.systemBusySeconds, b.systemBusySeconds);
  return {
    fenpayCores: fenpay,
    postgresCores: postgres,
    loadGeneratorCores: bench,
    toolsCores: tools,
    otherCores: busy === undefined ? undefined : Math.max(0, busy - (fenpay ?? 0) - (postgres ?? 0) - bench - (tools ?? 0)),
    systemBusyCores: busy,
    iowaitCores: rate(a.systemIowaitSeconds, b.systemIowaitSeconds),
    irqCores: rate(a.systemIrqSeconds, b.systemIrqSeconds),
    cores,
  };
}

/**
 * The kernel's TCP counters (whole network namespace, so other processes' traffic counts too): a listen
 * queue that overflows drops SYNs, and a client then waits for its SYN retransmission (1 s, 3 s, …).
 */
export interface TcpCounters {
  readonly listenOverflows: number | undefined;
  readonly synCookiesSent: number | undefined;
}

export function readTcpCounters(): TcpCounters {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const values = new Map<string, number>();
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i]!.split(' ');
      const numbers = lines[i + 1]!.split(' ');
      if (names[0] !== numbers[0]) continue;
      names.forEach((name, j) => j > 0 && values.set(`${names[0]}${name}`, Number(numbers[j])));
    }
    return { listenOverflows: values.get('TcpExt:ListenOverflows'), synCookiesSent: values.get('TcpExt:SyncookiesSent') };
  } catch {
    return { listenOverflows: undefined, synCookiesSent: undefined };
  }
}

export function tcpCountersBetween(a: TcpCounters, b: TcpCounters): TcpCounters {
  const d = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : y - x);
  return { listenOverflows: d(a.listenOverflows, b.listenOverflows), synCookiesSent: d(a.synCookiesSent, b.synCookiesSent) };
}

export interface PgCounters {
  readonly xactCommit: number;
  readonly xactRollback: number;
  readonly tupInserted: number;
  readonly tupUpdated: number;
  readonly deadlocks: number;
  readonly walRecords: number | undefined;
  readonly walBytes: number | undefined;
  readonly walWrites: number | undefined;
  readonly walSyncs: number | undefined;
  readonly checkpoints: number | undefined;
}

/** Server counters. Backends publish their statistics about once a second: let a phase settle first. */
export async function readPgCounters(pool: pg.Pool, database: string): Promise<PgCounters> {
  const db = await pool.query<Record<string, string>>(
    `SELECT xact_commit::text, xact_rollback::text, tup_inserted::text, tup_updated::text, deadlocks::text
       FROM pg_stat_database WHERE datname = $1`,
    [database],
  );
  const row = db.rows[0] ?? {};
  let wal: Record<string, string> | undefined;
  try {
    wal = (await pool.query<Record<string, string>>('SELECT wal_records::text, wal_bytes::text, wal_write::text, wal_sync::text FROM pg_stat_wal')).rows[0];
  } catch {
    wal = undefined;
  }
  let checkpoints: number | undefined;
  for (const text of [
    'SELECT (num_timed + num_requested)::text AS n FROM pg_stat_checkpointer',
    'SELECT (checkpoints_timed + checkpoints_req)::text AS n FROM pg_stat_bgwriter',
  ]) {
    try {
      checkpoints = Number((await pool.query<{ n: string }>(text)).rows[0]!.n);
      break;
    } catch {
      // Column moved between PostgreSQL 16 and 17.
    }
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  return {
    xactCommit: Number(row.xact_commit ?? 0),
    xactRollback: Number(row.xact_rollback ?? 0),
    tupInserted: Number(row.tup_inserted ?? 0),
    tupUpdated: Number(row.tup_updated ?? 0),
    deadlocks: Number(row.deadlocks ?? 0),
    walRecords: num(wal?.wal_records),
    walBytes: num(wal?.wal_bytes),
    walWrites: num(wal?.wal_write),
    walSyncs: num(wal?.wal_sync),
    checkpoints,
  };
}

export function pgCountersBetween(a: PgCounters, b: PgCounters): PgCounters {
  const d = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : y - x);
  return {
    xactCommit: b.xactCommit - a.xactCommit,
    xactRollback: b.xactRollback - a.xactRollback,
    tupInserted: b.tupInserted - a.tupInserted,
    tupUpdated: b.tupUpdated - a.tupUpdated,
    deadlocks: b.deadlocks - a.deadlocks,
    walRecords: d(a.walRecords, b.walRecords),
    walBytes: d(a.walBytes, b.walBytes),
    walWrites: d(a.walWrites, b.walWrites),
    walSyncs: d(a.walSyncs, b.walSyncs),
    checkpoints: d(a.checkpoints, b.checkpoints),
  };
}

/** Prometheus text → series ("name{labels}") → value. */
export function parseMetrics(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    series.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return series;
}

export interface FenpayMetricsDelta {
  readonly batches: number;
  readonly writeSets: number;
  readonly meanBatchSize: number | undefined;
  /** Write sets per batch, by histogram bucket upper bound ("≤ 1", "≤ 2", … "> 400"). */
  readonly batchSizeHistogram: Readonly<Record<string, number>>;
  readonly meanBatchMs: number | undefined;
  /** Server-side mean time of POST /v1/payment_intents (all statuses), from Fenpay's own histogram. */
  readonly serverMeanMs: number | undefined;
  readonly serverRequests: number;
  readonly fenpayCpuSeconds: number | undefined;
  readonly eventLoopLagP99Ms: number | undefined;
}

export function fenpayMetricsBetween(a: Map<string, number>, b: Map<string, number>): FenpayMetricsDelta {
  const delta = (name: string) => (b.get(name) ?? 0) - (a.get(name) ?? 0);
  const batches = delta('fenpay_write_batch_size_count');
  const writeSets = delta('fenpay_write_batch_size_sum');
  const histogram: Record<string, number> = {};
  let previous = 0;
  for (const le of ['1', '2', '5', '10', '25', '50', '100', '200', '400', '+Inf']) {
    const cumulative = delta(`fenpay_write_batch_size_bucket{le="${le}"}`);
    histogram[le === '+Inf' ? '> 400' : `≤ ${le}`] = cumulative - previous;
    previous = cumulative;
  }
  let serverSum = 0;
  let serverCount = 0;
  for (const key of b.keys()) {
    if (key.startsWith('fenpay_http_request_duration_seconds_sum{') && key.includes('route="/v1/payment_intents"') && key.includes('method="POST"')) {
      serverSum += delta(key);
      serverCount += delta(key.replace('_sum{', '_count{'));
    }
  }
  const batchSeconds = delta('fenpay_write_batch_duration_seconds_sum');
  const cpu = b.has('fenpay_process_process_cpu_seconds_total') ? delta('fenpay_process_process_cpu_seconds_total') : undefined;
  const lag = b.get('fenpay_process_nodejs_eventloop_lag_p99_seconds');
  return {
    batches,
    writeSets,
    meanBatchSize: batches > 0 ? writeSets / batches : undefined,
    batchSizeHistogram: histogram,
    meanBatchMs: batches > 0 ? (batchSeconds / batches) * 1000 : undefined,
    serverMeanMs: serverCount > 0 ? (serverSum / serverCount) * 1000 : undefined,
    serverRequests: serverCount,
    fenpayCpuSeconds: cpu,
    eventLoopLagP99Ms: lag === undefined ? undefined : lag * 1000,
  };
}
