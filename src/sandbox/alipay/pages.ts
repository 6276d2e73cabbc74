/**
 * The buyer's side of Alipay: a cashier page in Chinese and English that works on a phone, with no
 * scripts and no external assets. It shows merchant, subject and amount and offers three endings:
 * pay (approve), decline (the order is closed), or walk away (nothing happens; the order waits).
 */
import type { FastifyReply } from 'fastify';
import { Html, html, standalonePage } from '../../kernel/index.ts';
import { formatYuan } from './money.ts';
import type { Trade } from './trades.ts';

export { Html, html };

const styles = `
:root{color-scheme:light dark;--fg:#1a1f36;--muted:#5c6578;--bg:#eef3fb;--panel:#fff;--line:#e3e8ef;--accent:#1677ff;--accent-fg:#fff;--bad:#c92a2a}
@media (prefers-color-scheme:dark){:root{--fg:#e9ecf2;--muted:#9aa3b5;--bg:#10131a;--panel:#1a1e27;--line:#2a303c;--accent:#4096ff;--accent-fg:#10131a;--bad:#ff8787}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:16px;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif}
main{width:100%;max-width:420px;background:var(--panel);border:1px solid var(--line);border-radius:14px;padding:24px}
.badge{display:inline-block;margin:0 0 12px;padding:2px 10px;border-radius:999px;border:1px dashed var(--muted);color:var(--muted);font-size:13px}
.brand{font-weight:700;color:var(--accent);margin:0 0 8px;font-size:18px}
h1{font-size:20px;line-height:1.3;margin:0 0 4px}
.zh{display:block;color:var(--muted);font-size:.9em;font-weight:normal}
p{margin:12px 0;color:var(--muted)}
.amount{font-size:34px;font-weight:700;text-align:center;margin:16px 0;font-variant-numeric:tabular-nums;color:var(--fg)}
dl{margin:16px 0;padding:12px 16px;border:1px solid var(--line);border-radius:10px;display:grid;grid-template-columns:auto 1fr;gap:6px 16px}
dt{color:var(--muted)}dd{margin:0;text-align:right;font-weight:600;overflow-wrap:anywhere}
form{display:grid;gap:10px;margin-top:20px}
button,.button{display:block;width:100%;padding:12px 16px;border-radius:10px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);
font:inherit;font-weight:600;text-align:center;text-decoration:none;cursor:pointer}
button small,.button small{display:block;font-weight:normal;opacity:.85}
button.secondary{background:transparent;color:var(--bad);border-color:var(--bad)}
button.plain{background:transparent;color:var(--muted);border-color:var(--line)}
button:focus-visible,.button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
code{font-size:.9em;overflow-wrap:anywhere}
`;

function page(title: string, body: Html): string {
  return standalonePage({ lang: 'zh-CN', title, styles, body: `<p class="badge">Fenpay sandbox · 支付宝模拟器</p>\n<p class="brand">支付宝 · Alipay</p>\n${body.text}` });
}

/** Chinese first (it is Alipay), English beneath. */
export function bilingual(zh: string, en: string): Html {
  return html`${zh}<span class="zh" lang="en">${en}</span>`;
}

function summary(trade: Trade, merchantName: string): Html {
  return html`<p class="amount">¥${formatYuan(trade.totalAmount)}</p>
<dl>
<dt>${bilingual('收款方', 'Payee')}</dt><dd>${merchantName}</dd>
<dt>${bilingual('商品', 'Subject')}</dt><dd>${trade.subject}</dd>
<dt>${bilingual('订单号', 'Order')}</dt><dd><code>${trade.outTradeNo}</code></dd>
</dl>`;
}

export function cashierPage(options: { readonly trade: Trade; readonly merchantName: string; readonly actionUrl: string }): string {
  return page(
    '支付宝收银台 · Alipay checkout',
    html`<h1>${bilingual('确认付款', 'Confirm payment')}</h1>
${summary(options.trade, options.merchantName)}
<form method="post" action="${options.actionUrl}">
<button type="submit" name="action" value="approve">确认付款<small lang="en">Pay now (approve)</small></button>
<button type="submit" name="action" value="decline" class="secondary">拒绝付款<small lang="en">Decline (closes the order)</small></button>
<button type="submit" name="action" value="walk_away" class="plain">离开<small lang="en">Walk away (the order stays unpaid)</small></button>
</form>`,
  );
}

export function statusPage(options: { readonly trade: Trade; readonly merchantName: string; readonly backUrl: string | undefined; readonly walkedAway?: boolean }): string {
  const { trade } = options;
  const heading =
    options.walkedAway === true
      ? bilingual('您已离开收银台', 'You left the checkout')
      : trade.status === 'WAIT_BUYER_PAY'
        ? bilingual('等待付款', 'Waiting for payment')
        : trade.paidAt !== undefined
          ? bilingual('付款成功', 'Payment complete')
          : bilingual('交易已关闭', 'This order is closed');
  const note =
    options.walkedAway === true
      ? html`<p>${bilingual('订单仍未支付，超时后将自动关闭。', 'The order stays unpaid until it expires or the merchant closes it.')}</p>`
      : html``;
  const back = options.backUrl === undefined ? html`<p>${bilingual('您可以关闭此页面。', 'You can close this page.')}</p>` : html`<p><a class="button" href="${options.backUrl}">返回商户<small lang="en">Back to the merchant</small></a></p>`;
  return page('支付宝 · Alipay', html`<h1>${heading}</h1>${note}${summary(trade, options.merchantName)}${back}`);
}

export function errorPage(options: { readonly code: string; readonly subCode: string | undefined; readonly message: string }): string {
  return page(
    '支付宝 · 错误 Error',
    html`<h1>${bilingual('支付请求有误', 'This payment request is invalid')}</h1>
<dl><dt>${bilingual('错误码', 'Code')}</dt><dd><code>${options.code}</code></dd>
<dt>${bilingual('子错误码', 'Sub code')}</dt><dd><code>${options.subCode ?? '-'}</code></dd></dl>
<p>${options.message}</p>`,
  );
}

export function notFoundPage(): string {
  return page('支付宝 · Alipay', html`<h1>${bilingual('未找到该订单', 'Order not found')}</h1><p>${bilingual('此链接无效或已过期。', 'This link is unknown or has expired.')}</p>`);
}

export function sendHtml(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'")
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(body);
}
