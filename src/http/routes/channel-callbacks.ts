/**
 * What channels and payers' browsers call without an API key:
 * - `POST /notify/:channel` — a provider's asynchronous notification. The raw bytes are kept (the
 *   signature covers them), the channel verifies them, and the answer is exactly what the provider
 *   expects (Alipay: `success`; WeChat Pay: 204; UnionPay: 200).
 * - `GET /pay/forward/:attempt` — a page that posts a provider's browser form (UnionPay front consume),
 *   so a merchant handles that next action like any redirect. The attempt id (24 random characters) is
 *   the capability; the page only re-shows what the PaymentIntent's next_action already says.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { escapeHtml } from '../../kernel/index.ts';
import { receiveChannelNotification, type Services } from '../../flows/index.ts';
import { getAttempt, getPaymentIntentById } from '../../payments/index.ts';


export async function channelCallbackRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  await app.register(async (scope) => {
    // Every content type arrives as bytes: form bodies must not be re-encoded before verification.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_request, body, done) => done(null, body));
    const receive = async (request: FastifyRequest<{ Params: { channel: string; account?: string } }>, reply: FastifyReply) => {
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const target = { channel: request.params.channel, accountId: request.params.account };
      const answer = await receiveChannelNotification(services, target, { method: request.method, path: request.url, headers, rawBody });
      return reply.code(answer.status).header('content-type', answer.contentType).send(answer.body);
    };
    // Built-in (sandbox) channels at /notify/:channel; a merchant's own account at /notify/:channel/:account.
    scope.post('/notify/:channel', { schema: { hide: true } }, receive);
    scope.post('/notify/:channel/:account', { schema: { hide: true } }, receive);
  });

  app.get<{ Params: { attempt: string } }>('/pay/forward/:attempt', { schema: { hide: true } }, async (request, reply) => {
    const attempt = /^ch_[A-Za-z0-9]{24}$/.test(request.params.attempt) ? await getAttempt(services.db, request.params.attempt) : undefined;
    const intent = attempt ? await getPaymentIntentById(services.db, attempt.payment_intent_id) : undefined;
    const form = intent?.latest_attempt_id === attempt?.id && intent?.status === 'requires_action' ? (intent?.next_action as { fenpay_post_form?: { url: string; fields: Record<string, string> } } | null)?.fenpay_post_form : undefined;
    void reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
    if (!form) {
      return reply
        .code(410)
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        .type('text/html; charset=utf-8')
        .send('<!doctype html><meta charset="utf-8"><title>Fenpay</title><p>This payment is no longer waiting for you. 此付款已不再等待您的操作。</p>');
    }
    const nonce = randomBytes(16).toString('base64');
    const action = new URL(form.url);
    const inputs = Object.entries(form.fields).map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
    return reply
      .header('content-security-policy', `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; form-action ${action.origin}`)
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>正在跳转 · Redirecting</title></head>` +
          `<body style="font-family:system-ui,sans-serif;text-align:center;padding:3rem 1rem"><form id="f" method="post" action="${escapeHtml(form.url)}" accept-charset="utf-8">${inputs}` +
          `<p>正在前往支付页面… Taking you to the payment page…</p><noscript><button type="submit">继续 Continue</button></noscript></form>` +
          `<script nonce="${nonce}">document.getElementById('f').submit();</script></body></html>`,
      );
  });
}
