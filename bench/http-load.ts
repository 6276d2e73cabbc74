/**
 * A closed-loop HTTP/1.1 load generator for one request shape: N keep-alive connections, each with one
 * request in flight, a new request the moment the previous answer is complete. The benchmark runs on
 * the same two cores as Fenpay and PostgreSQL, so the generator must cost little: it writes each
 * request as one string, parses only the status line, Content-Length (or chunked framing) and the
 * body, and keeps latencies in a plain array (percentiles by sorting at the end). Measured against
 * autocannon driving the same requests on this machine: 0.2–0.25 ms of CPU per request for
 * autocannon, a fraction of that here, CPU the system under test gets instead (bench/README.md).
 */
import net from 'node:net';

export interface LoadTarget {
  readonly host: string;
  readonly port: number;
}

export interface LoadOptions {
  /** Connection i goes to target i mod n. */
  readonly targets: readonly LoadTarget[];
  readonly connections: number;
  readonly durationMs: number;
  /** A request without a complete answer this long after it was sent is a timeout; its connection is replaced. */
  readonly timeoutMs: number;
  /** The whole request (head and body) for the next send on a connection. */
  readonly request: () => string;
  /** Called with every complete answer. */
  readonly onResponse: (status: number, body: string) => void;
  readonly onSocketError?: (message: string) => void;
}

export interface LoadResult {
  readonly durationMs: number;
  readonly sent: number;
  readonly responses: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly timeouts: number;
  readonly socketErrors: number;
  readonly inFlightAtEnd: number;
  /** Client-observed latency of complete answers, in ms. */
  readonly latenciesMs: readonly number[];
}

interface Connection {
  socket: net.Socket;
  /** When the request in flight was written (performance.now), or undefined when idle. */
  sentAt: number | undefined;
  /** Unparsed bytes of the answer in flight. */
  pending: Buffer;
}

const headerEnd = Buffer.from('\r\n\r\n');

/**
 * Parses one complete HTTP/1.1 answer at the start of `data`: its status, body, total length and
 * whether the server will close the connection; undefined while incomplete.
 */
export function parseResponse(data: Buffer): { status: number; body: string; length: number; close: boolean } | undefined {
  const end = data.indexOf(headerEnd);
  if (end < 0) return undefined;
  const head = data.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  if (!Number.isInteger(status)) throw new Error(`not an HTTP status line: ${head.slice(0, 40)}`);
  const lower = head.toLowerCase();
  const close = /\r\nconnection:\s*close/.test(lower);
  const bodyStart = end + 4;
  const lengthMatch = /\r\ncontent-length:\s*(\d+)/.exec(lower);
  if (lengthMatch) {
    const length = Number(lengthMatch[1]);
    if (data.length < bodyStart + length) return undefined;
    return { status, body: data.toString('utf8', bodyStart, bodyStart + length), length: bodyStart + length, close };
  }
  if (/\r\ntransfer-encoding:\s*chunked/.test(lower)) {
    const parts: Buffer[] = [];
    let at = bodyStart;
    for (;;) {
      const lineEnd = data.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(data.toString('latin1', at, lineEnd), 16);
      if (!Number.isInteger(size)) throw new Error('bad chunk size');
      const chunkStart = lineEnd + 2;
      if (data.length < chunkStart + size + 2) return undefined;
      if (size === 0) return { status, body: Buffer.concat(parts).toString('utf8'), length: chunkStart + 2, close };
      parts.push(data.subarray(chunkStart, chunkStart + size));
      at = chunkStart + size + 2;
    }
  }
  // Neither: the body ends when the server closes (not used by Fenpay); treat as empty.
  return { status, body: '', length: bodyStart, close: true };
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  let sent = 0;
  let responses = 0;
  let timeouts = 0;
  let socketErrors = 0;
  let running = true;
  const connections = new Set<Connection>();
  const started = performance.now();

  const send = (c: Connection) => {
    c.sentAt = performance.now();
    sent += 1;
    c.socket.write(options.request());
  };

  let opened = 0;
  const open = () => {
    const target = options.targets[opened++ % options.targets.length]!;
    const socket = net.connect({ host: target.host, port: target.port, noDelay: true });
    const c: Connection = { socket, sentAt: undefined, pending: Buffer.alloc(0) };
    connections.add(c);
    let replaced = false;
    const replace = () => {
      if (replaced) return;
      replaced = true;
      connections.delete(c);
      socket.destroy();
      if (running) open();
    };
    socket.once('connect', () => {
      if (running) send(c);
    });
    socket.on('data', (chunk: Buffer) => {
      c.pending = c.pending.length === 0 ? chunk : Buffer.concat([c.pending, chunk]);
      let answer;
      try {
        answer = parseResponse(c.pending);
      } catch (error) {
        socketErrors += 1;
        options.onSocketError?.(error instanceof Error ? error.message : String(error));
        replace();
        return;
      }
      if (!answer || c.sentAt === undefined) return;
      latencies.push(performance.now() - c.sentAt);
      responses += 1;
      statusCounts[answer.status] = (statusCounts[answer.status] ?? 0) + 1;
      c.sentAt = undefined;
      c.pending = c.pending.subarray(answer.length);
      options.onResponse(answer.status, answer.body);
      if (answer.close) replace();
      else if (running) send(c);
    });
    socket.on('error', (error) => {
      if (!replaced) {
        socketErrors += 1;
        options.onSocketError?.(error.message);
      }
      replace();
    });
    socket.on('close', () => {
      // The server closed a connection with a request in flight: that request failed.
      if (!replaced && c.sentAt !== undefined) {
        socketErrors += 1;
        options.onSocketError?.('connection closed before the answer');
      }
      replace();
    });
  };

  for (let i = 0; i < options.connections; i++) open();
  // One sweep for every connection's deadline instead of a timer per request.
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const c of [...connections]) {
      if (c.sentAt !== undefined && now - c.sentAt > options.timeoutMs) {
        timeouts += 1;
        c.sentAt = undefined;
        connections.delete(c);
        c.socket.removeAllListeners('close');
        c.socket.destroy();
        if (running) open();
      }
    }
  }, 20);
  await new Promise((resolve) => setTimeout(resolve, options.durationMs));
  running = false;
  clearInterval(sweep);
  const durationMs = performance.now() - started;
  let inFlightAtEnd = 0;
  for (const c of connections) {
    if (c.sentAt !== undefined) inFlightAtEnd += 1;
    c.socket.removeAllListeners('close');
    c.socket.removeAllListeners('data');
    c.socket.on('error', () => undefined);
    c.socket.destroy();
  }
  connections.clear();
  return { durationMs, sent, responses, statusCounts, timeouts, socketErrors, inFlightAtEnd, latenciesMs: latencies };
}

/** The value below which `fraction` of the sorted values lie (nearest rank). */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]!;
}
