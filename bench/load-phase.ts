/**
 * One load phase: N keep-alive connections, each sending `POST /v1/payment_intents` with confirm=true
 * and a success test card, one merchant, a fresh Idempotency-Key and a random amount per request.
 * Every 200 whose body says `succeeded` is an acknowledged payment: its id is kept for verification.
 * The requests go through http-load.ts, a load generator lean enough to share two cores with Fenpay.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { percentile, runLoad } from './http-load.ts';

export interface LoadPhaseOptions {
  readonly name: string;
  /** One or more Fenpay processes; connections are spread over them in turn. */
  readonly baseUrls: readonly string[];
  readonly secretKey: string;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly timeoutSeconds: number;
}

export interface LatencyMs {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export interface LoadPhaseResult {
  readonly name: string;
  readonly connections: number;
  readonly durationSecondsPlanned: number;
  readonly durationSeconds: number;
  readonly timeoutSeconds: number;
  readonly sent: number;
  /** Complete HTTP responses, any status. */
  readonly responses: number;
  /** 200 with a PaymentIntent in status `succeeded`: confirmed payments. */
  readonly succeeded: number;
  /** 200 whose body was not a succeeded PaymentIntent (counted as an error). */
  readonly okNotSucceeded: number;
  readonly non2xx: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly timeouts: number;
  readonly socketErrors: number;
  /** non-2xx + 200-but-not-succeeded + timeouts + socket errors. */
  readonly errors: number;
  /** Sent but neither answered nor failed when the phase ended (not counted either way). */
  readonly inFlightAtEnd: number;
  readonly paymentsPerSecond: number;
  /** succeeded ÷ (responses + timeouts + socket errors): requests that ended in a confirmed payment in time. */
  readonly succeededRatio: number;
  /** Client-observed latency of complete responses (any status; timed-out requests have none). */
  readonly latencyMs: LatencyMs;
  /** A few distinct error bodies, to tell overload from a bug. */
  readonly sampleErrors: readonly string[];
}

const formBody = () => `amount=${randomInt(100, 100_000)}&currency=usd&payment_method=pm_card_visa&confirm=true`;

export async function runLoadPhase(options: LoadPhaseOptions, ackedIds: string[]): Promise<LoadPhaseResult> {
  let succeeded = 0;
  let okNotSucceeded = 0;
  const sampleErrors = new Set<string>();
  const noteError = (text: string) => {
    if (sampleErrors.size < 5) sampleErrors.add(text.length > 300 ? `${text.slice(0, 300)}…` : text);
  };
  const urls = options.baseUrls.map((u) => new URL(u));
  // Everything but the key and the body is the same for every request (Host names the first process;
  // Fenpay does not route by it).
  const head =
    `POST /v1/payment_intents HTTP/1.1\r\nHost: ${urls[0]!.host}\r\nAuthorization: Bearer ${options.secretKey}\r\n` +
    'Content-Type: application/x-www-form-urlencoded\r\nIdempotency-Key: ';
  const result = await runLoad({
    targets: urls.map((url) => ({ host: url.hostname, port: Number(url.port) })),
    connections: options.connections,
    durationMs: options.durationSeconds * 1000,
    timeoutMs: options.timeoutSeconds * 1000,
    request: () => {
      const body = formBody();
      return `${head}${randomUUID()}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    },
    onResponse: (status, body) => {
      if (status !== 200) {
        noteError(`${status} ${body}`);
        return;
      }
      let parsed: { id?: unknown; object?: unknown; status?: unknown } | undefined;
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        parsed = undefined;
      }
      if (parsed?.object === 'payment_intent' && parsed.status === 'succeeded' && typeof parsed.id === 'string') {
        succeeded += 1;
        ackedIds.push(parsed.id);
      } else {
        okNotSucceeded += 1;
        noteError(`200 ${body}`);
      }
    },
    onSocketError: (message) => noteError(`socket: ${message}`),
  });

  const latencies = [...result.latenciesMs].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms);
  const non2xx = Object.entries(result.statusCounts).reduce((sum, [code, count]) => (code.startsWith('2') ? sum : sum + count), 0);
  const ended = result.responses + result.timeouts + result.socketErrors;
  const durationSeconds = result.durationMs / 1000;
  return {
    name: options.name,
    connections: options.connections,
    durationSecondsPlanned: options.durationSeconds,
    durationSeconds: Math.round(durationSeconds * 100) / 100,
    timeoutSeconds: options.timeoutSeconds,
    sent: result.sent,
    responses: result.responses,
    succeeded,
    okNotSucceeded,
    non2xx,
    statusCounts: result.statusCounts,
    timeouts: result.timeouts,
    socketErrors: result.socketErrors,
    errors: non2xx + okNotSucceeded + result.timeouts + result.socketErrors,
    inFlightAtEnd: result.inFlightAtEnd,
    paymentsPerSecond: succeeded / durationSeconds,
    succeededRatio: ended === 0 ? 0 : succeeded / ended,
    latencyMs: {
      p50: round(percentile(latencies, 0.5)),
      p90: round(percentile(latencies, 0.9)),
      p99: round(percentile(latencies, 0.99)),
      max: round(latencies.at(-1) ?? 0),
      mean: latencies.length === 0 ? 0 : Math.round((latencies.reduce((a, b) => a + b, 0) / latencies.length) * 100) / 100,
    },
    sampleErrors: [...sampleErrors],
  };
}
