/**
 * The hosted checkout page at a session's `url` (/c/pay/:id) and the page's own small API (/c/api/:id/…).
 *
 * Security: the session id (143 random bits) is the capability to see the order; every call that
 * changes something also carries the session's page secret in a header (`X-Checkout-Secret`), which
 * only the page's HTML holds. No cookies are used, so there is nothing for a cross-site request to
 * ride on (CSRF), and the custom header cannot be sent cross-origin without a CORS preflight that is
 * never granted. Card numbers go in a JSON body to /c/api/:id/payment_methods — the session-scoped
 * twin of the publishable-key tokenization endpoint, running the same flow into the vault — and never
 * into a URL or a log line. Every response has a strict Content-Security-Policy: scripts and styles
 * only from this origin with a per-response nonce, no third-party host, no framing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../kernel/index.ts';
import {
  createPaymentMethod,
  pageState,
  payCheckoutSession,
  setPagePromotionCode,
  type PageDevice,
  type Services,
} from '../../flows/index.ts';
import { getCheckoutSessionById, getCouponById, getLineItems, getPromotionCode, lineItemViews, successUrlFor, type CheckoutSessionRow } from '../../checkout/index.ts';
import { getMerchant } from '../../merchants/index.ts';
import { getPaymentIntentById, type PaymentIntentRow } from '../../payments/index.ts';
import { formatAmount, pickLocale, renderMessage, renderPage, strings, type PageLocale } from './checkout-page-view.ts';

const clientSource = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'checkout-page.client.js'), 'utf8');
const clientGzip = gzipSync(clientSource, { level: 9 });
const clientHash = createHash('sha256').update(clientSource).digest('hex').slice(0, 16);
export const checkoutScriptPath = `/c/assets/checkout-${clientHash}.js`;
/** Size of the page's JavaScript as sent compressed (the budget is 60 KB). */
export const checkoutScriptGzipBytes = clientGzip.length;

const sessionIdPattern = /^cs_[0-9A-Za-z]{24}$/;

function csp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

function sendHtml(reply: FastifyReply, status: number, nonce: string, body: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', csp(nonce))
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .send(body);
}

function noStoreJson(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
}

async function sessionFor(services: Services, id: string): Promise<CheckoutSessionRow | undefined> {
  if (!sessionIdPattern.test(id)) return undefined;
  return await getCheckoutSessionById(services.db, id);
}

/** The page secret must match exactly (constant-time); the header is the only place it travels. */
async function authorizedSession(services: Services, request: FastifyRequest<{ Params: { id: string } }>): Promise<CheckoutSessionRow> {
  const session = await sessionFor(services, request.params.id);
  const given = request.headers['x-checkout-secret'];
  if (!session) throw new AppError('resource_missing', { message: 'No such Checkout Session.' });
  const expected = Buffer.from(session.page_secret);
  const actual = Buffer.from(typeof given === 'string' ? given : '');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new AppError('checkout_page_secret_invalid');
  return session;
}

async function discountLabel(services: Services, session: CheckoutSessionRow): Promise<string | null> {
  if (session.promotion_code_id !== null) {
    const code = await getPromotionCode(services.db, { merchantId: session.merchant_id, livemode: session.livemode }, session.promotion_code_id);
    if (code) return code.code;
  }
  if (session.coupon_id !== null) {
    const coupon = await getCouponById(services.db, session.coupon_id);
    return coupon?.name ?? coupon?.public_id ?? null;
  }
  return null;
}

/** What the page's script needs to redraw the order and follow the payment. */
async function stateBody(services: Services, session: CheckoutSessionRow, intent: PaymentIntentRow | undefined): Promise<Record<string, unknown>> {
  const label = await discountLabel(services, session);
  const error = intent?.status === 'requires_payment_method' ? intent.last_payment_error : null;
  return {
    status: session.status,
    payment_status: session.payment_status,
    success_url: session.status === 'complete' ? successUrlFor(session) : null,
    cancel_url: session.cancel_url,
    amount_subtotal: Number(session.amount_subtotal),
    amount_discount: Number(session.amount_discount),
    amount_total: Number(session.amount_total),
    display: {
      subtotal: formatAmount(session.amount_subtotal, session.currency),
      discount: session.amount_discount > 0n ? formatAmount(session.amount_discount, session.currency) : null,
      total: formatAmount(session.amount_total, session.currency),
      discount_label: label,
    },
    payment: intent === undefined ? null : { status: intent.status, next_action: intent.next_action, error: error === null ? null : { code: (error as { code?: string }).code ?? null, decline_code: (error as { decline_code?: string }).decline_code ?? null } },
  };
}

function errorCodeOf(intent: PaymentIntentRow | undefined): string | null {
  if (intent?.status !== 'requires_payment_method' || intent.last_payment_error === null) return null;
  const error = intent.last_payment_error as { code?: string; decline_code?: string };
  if (error.code === 'card_declined' && error.decline_code !== undefined && error.decline_code in strings.en.errors) return error.decline_code;
  return error.code ?? 'generic';
}

function messageFor(locale: PageLocale, session: CheckoutSessionRow, nonce: string): string {
  const t = strings[locale];
  if (session.status === 'complete') {
    return renderMessage({ locale, nonce, status: 'complete', title: t.completeTitle, text: t.paidText, link: { href: successUrlFor(session), label: t.continue } });
  }
  return renderMessage({ locale, nonce, status: 'expired', title: t.expiredTitle, text: t.expiredText, link: session.cancel_url === null ? null : { href: session.cancel_url, label: t.returnToMerchant } });
}

export async function checkoutPageRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;
  const hide = { schema: { hide: true } };

  app.get(checkoutScriptPath, hide, async (request, reply) => {
    const gzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    void reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'accept-encoding');
    if (gzip) return reply.header('content-encoding', 'gzip').send(clientGzip);
    return reply.send(clientSource);
  });

  app.get<{ Params: { id: string } }>('/c/pay/:id', hide, async (request, reply) => {
    const nonce = randomBytes(16).toString('base64');
    const found = await sessionFor(services, request.params.id);
    const state = found && (await pageState(services, found.id));
    const locale = pickLocale(found?.locale ?? null, request.headers['accept-language']);
    if (!found || !state) {
      const t = strings[locale];
      return sendHtml(reply, 404, nonce, renderMessage({ locale, nonce, status: 'missing', title: t.notFound, text: '', link: null }));
    }
    const session = (await getCheckoutSessionById(services.db, found.id))!;
    if (session.status !== 'open') return sendHtml(reply, session.status === 'expired' ? 410 : 200, nonce, messageFor(locale, session, nonce));
    const merchant = await getMerchant(services.db, session.merchant_id);
    const items = lineItemViews(session, await getLineItems(services.db, session.id));
    const label = await discountLabel(services, session);
    const intent = state.intent;
    const pending = intent !== undefined && (intent.status === 'processing' || (intent.status === 'requires_action' && intent.payment_method_types.length > 0 && intent.next_action !== null));
    const html = renderPage({
      locale,
      nonce,
      scriptUrl: checkoutScriptPath,
      merchantName: merchant?.name ?? 'Fenpay',
      livemode: session.livemode,
      sessionId: session.id,
      pageSecret: session.page_secret,
      lines: items.map((v) => ({ name: v.row.name, description: v.row.description, quantity: v.row.quantity, amount: formatAmount(v.amountSubtotal, v.row.currency), unit: formatAmount(v.row.unit_amount, v.row.currency) })),
      subtotal: formatAmount(session.amount_subtotal, session.currency),
      discount: session.amount_discount > 0n ? formatAmount(session.amount_discount, session.currency) : null,
      discountLabel: label,
      total: formatAmount(session.amount_total, session.currency),
      totalMinor: session.amount_total.toString(),
      currency: session.currency,
      expiresAt: Math.floor(session.expires_at.getTime() / 1000),
      allowPromotionCodes: session.allow_promotion_codes,
      customerEmail: session.customer_email,
      methods: session.payment_method_types,
      cancelUrl: session.cancel_url,
      errorCode: errorCodeOf(intent),
      pending,
    });
    return sendHtml(reply, 200, nonce, html);
  });

  // Where 3-D Secure and the wallets' pages send the payer back: paid → the merchant's success_url;
  // otherwise back to the page, which shows why or keeps waiting for the channel.
  app.get<{ Params: { id: string } }>('/c/pay/:id/return', hide, async (request, reply) => {
    const found = await sessionFor(services, request.params.id);
    if (!found) return reply.redirect(`/c/pay/${encodeURIComponent(request.params.id)}`, 303);
    let state = await pageState(services, found.id);
    // A wallet's notification often lands a moment after the payer: wait briefly before showing "waiting".
    for (let i = 0; i < 15 && state?.status === 'open' && (state.intent?.status === 'processing' || state.intent?.status === 'requires_action'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      state = await pageState(services, found.id);
    }
    if (state?.status === 'complete' && state.successUrl !== undefined) return reply.header('cache-control', 'no-store').redirect(state.successUrl, 303);
    return reply.header('cache-control', 'no-store').redirect(`/c/pay/${found.id}`, 303);
  });

  app.get<{ Params: { id: string } }>('/c/api/:id/state', hide, async (request, reply) => {
    const session = await authorizedSession(services, request);
    const state = await pageState(services, session.id);
    const now = (await getCheckoutSessionById(services.db, session.id))!;
    void noStoreJson(reply);
    return await stateBody(services, now, state?.intent);
  });

  app.post<{ Params: { id: string }; Body: { code?: string | null; email?: string } }>(
    '/c/api/:id/promotion_code',
    { schema: { hide: true, body: { type: 'object', additionalProperties: false, properties: { code: { type: ['string', 'null'], maxLength: 200 }, email: { type: 'string', maxLength: 800 } } } } },
    async (request, reply) => {
      const session = await authorizedSession(services, request);
      const body = request.body ?? {};
      const code = body.code === null || body.code === undefined || body.code.trim() === '' ? undefined : body.code.trim();
      const next = await setPagePromotionCode(services, session.id, { code, email: body.email });
      void noStoreJson(reply);
      const intent = next.payment_intent_id === null ? undefined : await getPaymentIntentById(services.db, next.payment_intent_id);
      return await stateBody(services, next, intent);
    },
  );

  app.post<{ Params: { id: string }; Body: { number: string; exp_month: number; exp_year: number; cvc?: string; name?: string } }>(
    '/c/api/:id/payment_methods',
    {
      schema: {
        hide: true,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['number', 'exp_month', 'exp_year'],
          properties: { number: { type: 'string', maxLength: 30 }, exp_month: { type: 'integer' }, exp_year: { type: 'integer' }, cvc: { type: 'string', pattern: '^[0-9]{3,4}$' }, name: { type: 'string', maxLength: 200 } },
        },
      },
    },
    async (request, reply) => {
      const session = await authorizedSession(services, request);
      if (session.status !== 'open') throw session.status === 'expired' ? new AppError('checkout_session_expired') : new AppError('checkout_session_completed');
      if (!session.payment_method_types.includes('card')) throw new AppError('payment_method_type_unsupported', { message: 'This order cannot be paid by card.' });
      const body = request.body;
      const ctx = { tenant: { merchantId: session.merchant_id, livemode: session.livemode }, requestId: request.id, idempotency: undefined, handlesCardData: false, clientIp: request.ip };
      const pm = await createPaymentMethod(services, ctx, {
        type: 'card',
        card: { number: body.number, expMonth: body.exp_month, expYear: body.exp_year },
        billingDetails: body.name === undefined || body.name === '' ? undefined : { name: body.name },
        metadata: { checkout_session: session.id },
      });
      void noStoreJson(reply);
      const card = pm.card as { brand?: string; last4?: string } | undefined;
      return { id: pm.id, brand: card?.brand ?? null, last4: card?.last4 ?? null };
    },
  );

  app.post<{ Params: { id: string }; Body: { method: string; payment_method?: string; email?: string; device?: PageDevice } }>(
    '/c/api/:id/pay',
    {
      schema: {
        hide: true,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['method'],
          properties: { method: { type: 'string', maxLength: 40 }, payment_method: { type: 'string', maxLength: 128 }, email: { type: 'string', maxLength: 800 }, device: { type: 'string', enum: ['desktop', 'mobile'] } },
        },
      },
    },
    async (request, reply) => {
      const session = await authorizedSession(services, request);
      const body = request.body;
      const result = await payCheckoutSession(services, session.id, { method: body.method, paymentMethodId: body.payment_method, email: body.email, device: body.device ?? 'desktop', clientIp: request.ip });
      const intent = result.session.payment_intent_id === null ? undefined : await getPaymentIntentById(services.db, result.session.payment_intent_id);
      void noStoreJson(reply);
      const state = await stateBody(services, result.session, intent);
      return { ...state, error: result.error === undefined ? null : { code: result.error.code ?? null, decline_code: result.error.decline_code ?? null } };
    },
  );
}
