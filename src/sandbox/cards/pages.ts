/**
 * The sandbox issuer's 3-D Secure challenge page, in English and Chinese. A Fastify plugin with two
 * routes and nothing else: no hooks, no parsers (the host app parses form bodies into request.body).
 *
 *   GET  /sandbox/cards/3ds/:reference   the challenge: amount, card •••• last4, approve or fail
 *   POST /sandbox/cards/3ds/:reference   result=approve|fail → record, tell Fenpay, 303 to the return URL
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { formatMinor, html, httpUrlOrUndefined, standalonePage, type Html } from '../../kernel/index.ts';
import type { SandboxCardAcquirer, SandboxChallengeView } from './acquirer.ts';

export interface SandboxCardPagesOptions {
  readonly acquirer: SandboxCardAcquirer;
}

const referencePattern = /^sca_[0-9A-Za-z]{1,64}$/;

const brandNames: Record<string, string> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  jcb: 'JCB',
  unionpay: 'UnionPay',
  discover: 'Discover',
  diners: 'Diners Club',
};


function formatAmount(amount: bigint, currency: string): string {
  try {
    return `${formatMinor(amount, currency)} ${currency.toUpperCase()}`;
  } catch {
    // A currency outside Fenpay's table still shows something true.
    return `${amount.toString()} ${currency.toUpperCase()} (minor units)`;
  }
}


const styles = `
:root{color-scheme:light dark;--fg:#1a1f36;--muted:#5c6578;--bg:#f4f6fa;--panel:#fff;--line:#e3e8ef;--accent:#3b5bdb;--accent-fg:#fff;--bad:#c92a2a}
@media (prefers-color-scheme:dark){:root{--fg:#e9ecf2;--muted:#9aa3b5;--bg:#10131a;--panel:#1a1e27;--line:#2a303c;--accent:#748ffc;--accent-fg:#10131a;--bad:#ff8787}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:16px;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif}
main{width:100%;max-width:420px;background:var(--panel);border:1px solid var(--line);border-radius:14px;padding:24px}
.badge{display:inline-block;margin:0 0 12px;padding:2px 10px;border-radius:999px;border:1px dashed var(--muted);color:var(--muted);font-size:13px}
h1{font-size:20px;line-height:1.3;margin:0 0 4px}
.zh{display:block;color:var(--muted);font-size:.9em;font-weight:normal}
p{margin:12px 0;color:var(--muted)}
dl{margin:16px 0;padding:12px 16px;border:1px solid var(--line);border-radius:10px;display:grid;grid-template-columns:auto 1fr;gap:6px 16px}
dt{color:var(--muted)}dd{margin:0;text-align:right;font-weight:600;font-variant-numeric:tabular-nums}
form{display:grid;gap:10px;margin-top:20px}
button,.button{display:block;width:100%;padding:12px 16px;border-radius:10px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);
font:inherit;font-weight:600;text-align:center;text-decoration:none;cursor:pointer}
button small,.button small{display:block;font-weight:normal;opacity:.85}
button.secondary{background:transparent;color:var(--bad);border-color:var(--bad)}
button:focus-visible,.button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
`;

function page(title: string, body: Html): string {
  return standalonePage({ lang: 'en', title, styles, body: `<p class="badge">Fenpay sandbox · 测试环境</p>\n${body.text}` });
}

/** Two languages side by side: English first, Chinese beneath. */
function bilingual(en: string, zh: string): Html {
  return html`${en}<span class="zh" lang="zh-CN">${zh}</span>`;
}

function summary(view: SandboxChallengeView): Html {
  const brand = view.cardBrand === undefined ? '' : `${brandNames[view.cardBrand] ?? 'Card'} `;
  return html`<dl>
<dt>${bilingual('Amount', '金额')}</dt><dd>${formatAmount(view.amount, view.currency)}</dd>
<dt>${bilingual('Card', '卡片')}</dt><dd>${brand}•••• ${view.cardLast4 ?? '····'}</dd>
</dl>`;
}

function challengePage(view: SandboxChallengeView): string {
  return page(
    '3-D Secure · 身份验证',
    html`<h1>${bilingual('Authenticate this payment', '验证本次付款')}</h1>
<p>${bilingual(
      'This is a simulated 3-D Secure check from the card issuer. Choose how it ends.',
      '这是模拟的发卡行 3-D Secure 身份验证，请选择验证结果。',
    )}</p>
${summary(view)}
<form method="post" action="${encodeURIComponent(view.reference)}">
<button type="submit" name="result" value="approve">Complete authentication<small lang="zh-CN">完成验证</small></button>
<button type="submit" name="result" value="fail" class="secondary">Fail authentication<small lang="zh-CN">验证失败</small></button>
</form>`,
  );
}

function donePage(view: SandboxChallengeView | undefined, returnUrl: string | undefined): string {
  const outcome =
    view?.state === 'closed'
      ? bilingual('This payment no longer needs authentication.', '该付款已无需验证。')
      : view?.outcome === 'authentication_failed'
        ? bilingual('Authentication failed.', '验证未通过。')
        : bilingual('Authentication complete.', '验证已完成。');
  const next =
    returnUrl === undefined
      ? html`<p>${bilingual('You can close this window.', '您可以关闭此窗口。')}</p>`
      : html`<p><a class="button" href="${returnUrl}">Continue<small lang="zh-CN">继续</small></a></p>`;
  return page('3-D Secure · 身份验证', html`<h1>${outcome}</h1>${view === undefined ? html`` : summary(view)}${next}`);
}

function messagePage(title: Html, text: Html): string {
  return page('3-D Secure · 身份验证', html`<h1>${title}</h1><p>${text}</p>`);
}

function sendHtml(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    // Inline styles only; no scripts, images, frames or fonts from anywhere. No form-action: browsers
    // apply it to the redirect after the POST, and the return URL is on the merchant's site.
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'")
    .header('x-content-type-options', 'nosniff')
    // The page URL carries the reference; keep it out of the merchant site's Referer.
    .header('referrer-policy', 'no-referrer')
    .send(body);
}

function notFoundPage(reply: FastifyReply): FastifyReply {
  return sendHtml(
    reply,
    404,
    messagePage(bilingual('Authentication not found', '未找到该验证'), bilingual('This link is unknown or has been mistyped.', '此链接无效或有误。')),
  );
}

export const sandboxCardPages: FastifyPluginAsync<SandboxCardPagesOptions> = async (app, { acquirer }) => {
  app.get<{ Params: { reference: string } }>('/sandbox/cards/3ds/:reference', async (request, reply) => {
    const { reference } = request.params;
    if (!referencePattern.test(reference)) return notFoundPage(reply);
    const view = await acquirer.challenge(reference);
    if (view === undefined) return notFoundPage(reply);
    if (view.state !== 'pending') return sendHtml(reply, 200, donePage(view, httpUrlOrUndefined(view.returnUrl)));
    return sendHtml(reply, 200, challengePage(view));
  });

  app.post<{ Params: { reference: string }; Body: unknown }>('/sandbox/cards/3ds/:reference', async (request, reply) => {
    const { reference } = request.params;
    if (!referencePattern.test(reference)) return notFoundPage(reply);
    const body = request.body;
    const result = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).result : undefined;
    if (result !== 'approve' && result !== 'fail') {
      return sendHtml(
        reply,
        400,
        messagePage(bilingual('Choose an answer', '请选择验证结果'), bilingual('Send result=approve or result=fail.', '请提交 result=approve 或 result=fail。')),
      );
    }
    const completion = await acquirer.completeChallenge({ reference, result });
    if (!completion.found) return notFoundPage(reply);
    if (completion.callbackFailure !== undefined) {
      // The answer is recorded; Fenpay's background sync picks the attempt up later.
      request.log.error({ err: completion.callbackFailure.error, orderNo: completion.orderNo }, 'sandbox card: onChallengeCompleted failed');
    }
    const returnUrl = httpUrlOrUndefined(completion.returnUrl);
    if (returnUrl !== undefined) return reply.header('cache-control', 'no-store').redirect(returnUrl, 303);
    return sendHtml(reply, 200, donePage(await acquirer.challenge(reference), undefined));
  });
};
