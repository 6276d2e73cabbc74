/**
 * One load phase: N keep-alive connections, each sending `POST /v1/payment_intents` with confirm=true
 * and a success test card, one merchant, a fresh Idempotency-Key and a random amount per request.
 * Every 200 whose body says `succeeded` is an acknowledged payment: its id is kept for verification.
 */
import { randomInt, randomUUID } from 'node:crypto';
import autocannon from 'autocannon';

export interface LoadPhaseOptions {
  readonly name: string;
  readonly baseUrl: string;
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

  let finish: (error: unknown, result?: autocannon.Result) => void = () => undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) => (error ? reject(error instanceof Error ? error : new Error('autocannon failed')) : resolve(result!));
  });
  const instance = autocannon({
    url: options.baseUrl,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: options.timeoutSeconds,
    headers: {
      authorization: `Bearer ${options.secretKey}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    requests: [
      {
        method: 'POST',
        path: '/v1/payment_intents',
        // Called for every request a connection sends: a new key and body each time.
        setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'idempotency-key': randomUUID() }, body: formBody() }),
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
      },
    ],
  }, (error, result) => finish(error, result));
  instance.on('reqError', (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (message !== 'request timed out') noteError(`socket: ${message}`);
  });
  // autocannon stops itself after `duration`; this only guards against it never reporting.
  const guard = setTimeout(() => instance.stop(), (options.durationSeconds + options.timeoutSeconds + 15) * 1000);
  let result: autocannon.Result;
  try {
    result = await finished;
  } finally {
    clearTimeout(guard);
  }

  const statusCounts: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCounts[code] = stat.count ?? 0;
  const responses = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  const timeouts = result.timeouts;
  const socketErrors = result.errors - result.timeouts;
  const sent = result.requests.sent;
  const ended = responses + timeouts + socketErrors;
  return {
    name: options.name,
    connections: options.connections,
    durationSecondsPlanned: options.durationSeconds,
    durationSeconds: result.duration,
    timeoutSeconds: options.timeoutSeconds,
    sent,
    responses,
    succeeded,
    okNotSucceeded,
    non2xx: result.non2xx,
    statusCounts,
    timeouts,
    socketErrors,
    errors: result.non2xx + okNotSucceeded + timeouts + socketErrors,
    inFlightAtEnd: Math.max(0, sent - ended),
    paymentsPerSecond: succeeded / result.duration,
    succeededRatio: ended === 0 ? 0 : succeeded / ended,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
    sampleErrors: [...sampleErrors],
  };
}
