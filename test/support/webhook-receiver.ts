/**
 * A merchant's webhook receiver on a loopback port: records every request byte for byte and answers as
 * the test programs it (status, delay, hang).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  /** The request path and query (tests give each endpoint its own). */
  readonly path: string;
  readonly body: string;
  readonly signature: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly eventId: string;
  readonly eventType: string;
  readonly at: number;
  /** What the receiver answered. */
  status: number;
}

export type Answer = { status: number; body?: string; location?: string; delayMs?: number } | 'hang';

export interface WebhookReceiver {
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** Decides each answer; default 200. */
  answer: (hook: ReceivedWebhook, nth: number) => Answer;
  /** Resolves when `predicate` holds over what was received (polls). */
  waitFor(predicate: (received: readonly ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const hanging = new Set<http.ServerResponse>();
  const receiver: WebhookReceiver = {
    url: '',
    received,
    answer: () => ({ status: 200 }),
    async waitFor(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`webhook receiver: condition not met within ${timeoutMs} ms (received ${received.length})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let parsed: { id?: string; type?: string } = {};
      try {
        parsed = JSON.parse(body) as { id?: string; type?: string };
      } catch {
        // recorded as is
      }
      const hook: ReceivedWebhook = {
        path: request.url ?? '',
        body,
        signature: String(request.headers['stripe-signature'] ?? ''),
        headers: request.headers,
        eventId: parsed.id ?? '',
        eventType: parsed.type ?? '',
        at: Date.now(),
        status: 0,
      };
      received.push(hook);
      const answer = receiver.answer(hook, received.length);
      if (answer === 'hang') {
        hanging.add(response);
        return;
      }
      const send = () => {
        hook.status = answer.status;
        response.writeHead(answer.status, answer.location ? { location: answer.location } : {});
        response.end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (receiver as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  return receiver;
}
