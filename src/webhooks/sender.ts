/**
 * One webhook POST: no redirects followed (a 3xx is a failed attempt), a hard deadline over connect,
 * send and answer, at most a short snippet of the answer kept, and — unless private targets are
 * allowed — only public addresses connected to.
 */
import http from 'node:http';
import https from 'node:https';
import { literalTargetAllowed, publicOnlyLookup } from './target.ts';

export interface WebhookPost {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly allowPrivate: boolean;
}

export interface WebhookPostResult {
  /** The HTTP status, when an answer came. */
  readonly status: number | undefined;
  /** Why the attempt failed without (or despite) an answer; undefined on a 2xx. */
  readonly error: string | undefined;
  readonly snippet: string | undefined;
  readonly durationMs: number;
}

const snippetBytes = 1024;
/** Answers are read this far (so keep-alive sockets can be reused), then the socket is dropped. */
const answerBytesMax = 64 * 1024;
const agentOptions = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 60_000 };
const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };

export async function postWebhook(post: WebhookPost): Promise<WebhookPostResult> {
  const started = performance.now();
  const elapsed = () => Math.trunc(performance.now() - started);
  const url = new URL(post.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { status: undefined, error: `unsupported scheme ${url.protocol}`, snippet: undefined, durationMs: 0 };
  if (!post.allowPrivate && !literalTargetAllowed(url)) {
    return { status: undefined, error: 'destination address is private, loopback or link-local', snippet: undefined, durationMs: 0 };
  }
  const client = url.protocol === 'https:' ? https : http;
  const body = Buffer.from(post.body, 'utf8');
  return await new Promise<WebhookPostResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<WebhookPostResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve({ ...result, durationMs: elapsed() });
    };
    const request = client.request(
      url,
      {
        method: 'POST',
        agent: agents[url.protocol as 'http:' | 'https:'],
        headers: { ...post.headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) },
        ...(post.allowPrivate ? {} : { lookup: publicOnlyLookup }),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let length = 0;
        response.on('data', (chunk: Buffer) => {
          if (length < answerBytesMax) chunks.push(chunk);
          length += chunk.length;
          if (length >= answerBytesMax) response.destroy();
        });
        const done = () => {
          const text = Buffer.concat(chunks).subarray(0, snippetBytes).toString('utf8');
          const snippet = text === '' ? undefined : text;
          if (status >= 200 && status < 300) finish({ status, error: undefined, snippet });
          else if (status >= 300 && status < 400) finish({ status, error: `redirect to ${response.headers.location ?? '(no location)'} not followed`, snippet });
          else finish({ status, error: `HTTP ${status}`, snippet });
        };
        response.on('end', done);
        response.on('close', done);
        response.on('error', done);
      },
    );
    const deadline = setTimeout(() => {
      request.destroy();
      finish({ status: undefined, error: `timed out after ${post.timeoutMs} ms`, snippet: undefined });
    }, post.timeoutMs);
    request.on('error', (err: Error & { code?: string }) => {
      finish({ status: undefined, error: err.code === 'EFENPAY_BLOCKED_TARGET' ? 'destination resolves to a private, loopback or link-local address' : `${err.code ?? err.name}: ${err.message}`, snippet: undefined });
    });
    request.end(body);
  });
}
