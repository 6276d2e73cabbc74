/**
 * The emulated UnionPay cashier's pages: server-rendered, bilingual (中文 / English), no external
 * assets, readable on a phone. No card number is asked for: the buyer just approves, declines or
 * walks away.
 */
import { escapeHtml } from '../../kernel/index.ts';

/** Fen as yuan for display ("12.34"), with integer arithmetic. */
export function yuan(fen: bigint): string {
  const digits = fen.toString().padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

const styles = `
:root{color-scheme:light dark;--fg:#1d2433;--muted:#5f6b7d;--bg:#f3f5f8;--panel:#fff;--line:#e1e6ee;--accent:#c8102e;--accent-fg:#fff}
@media (prefers-color-scheme:dark){:root{--fg:#e8ebf1;--muted:#9ba5b6;--bg:#11141a;--panel:#1b1f27;--line:#2b313d;--accent:#ff5a6e;--accent-fg:#11141a}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:16px;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif}
main{width:100%;max-width:420px;background:var(--panel);border:1px solid var(--line);border-radius:14px;padding:24px}
.badge{display:inline-block;margin:0 0 12px;padding:2px 10px;border-radius:999px;border:1px dashed var(--muted);color:var(--muted);font-size:13px}
h1{font-size:20px;line-height:1.3;margin:0 0 4px}
.en{display:block;color:var(--muted);font-size:.85em;font-weight:normal}
.amount{font-size:32px;font-weight:600;margin:16px 0 4px}
dl{margin:16px 0;padding:12px 16px;border:1px solid var(--line);border-radius:10px;display:grid;grid-template-columns:auto 1fr;gap:6px 16px}
dt{color:var(--muted)}dd{margin:0;word-break:break-all}
form{margin:0}
button{display:block;width:100%;min-height:48px;margin:10px 0 0;border-radius:10px;font:inherit;cursor:pointer;border:1px solid var(--line);background:transparent;color:var(--fg)}
button.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-fg);font-weight:600}
p{color:var(--muted)}
`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${styles}</style></head>
<body><main><span class="badge">银联测试环境 · UnionPay sandbox</span>${body}</main></body></html>`;
}

export interface CashierView {
  readonly actionUrl: string;
  readonly merId: string;
  readonly orderId: string;
  readonly txnAmt: bigint;
  readonly orderDesc: string | undefined;
  readonly payTimeout: string | undefined;
}

export function cashierPage(view: CashierView): string {
  const button = (action: string, zh: string, en: string, primary = false) =>
    `<form method="post" action="${escapeHtml(view.actionUrl)}"><input type="hidden" name="action" value="${action}">` +
    `<button type="submit" name="choice" value="${action}"${primary ? ' class="primary"' : ''} data-action="${action}">${zh} · ${en}</button></form>`;
  return page(
    '银联在线支付 UnionPay online payment',
    `<h1>银联在线支付<span class="en">UnionPay online payment</span></h1>
<div class="amount" data-amount-fen="${view.txnAmt.toString()}">¥${yuan(view.txnAmt)}</div>
<dl><dt>商户号 Merchant</dt><dd>${escapeHtml(view.merId)}</dd><dt>订单号 Order</dt><dd>${escapeHtml(view.orderId)}</dd>
${view.orderDesc === undefined ? '' : `<dt>商品 Item</dt><dd>${escapeHtml(view.orderDesc)}</dd>`}
${view.payTimeout === undefined ? '' : `<dt>支付截止 Pay by</dt><dd>${escapeHtml(view.payTimeout)} (北京时间 Beijing)</dd>`}</dl>
<p>这是模拟收银台，不需要输入卡号。<br>This is an emulated cashier: no card number is needed.</p>
${button('approve', '确认付款', 'Approve', true)}${button('decline', '银行拒绝', 'Decline')}${button('walk_away', '离开不付', 'Walk away')}`,
  );
}

/** Sends the buyer's browser back to the merchant's frontUrl with the signed result (a self-submitting form). */
export function returnToMerchantPage(frontUrl: string, fields: Readonly<Record<string, string>>, zh: string, en: string): string {
  const inputs = Object.entries(fields)
    .map(([key, value]) => `<input type="hidden" name="${escapeHtml(key)}" value="${escapeHtml(value)}">`)
    .join('');
  return page(
    `${zh} ${en}`,
    `<h1>${escapeHtml(zh)}<span class="en">${escapeHtml(en)}</span></h1>
<form id="return" method="post" action="${escapeHtml(frontUrl)}">${inputs}<button type="submit" class="primary">返回商户 · Return to the merchant</button></form>
<script>document.getElementById('return').submit()</script>`,
  );
}

export function messagePage(zh: string, en: string, detail?: string): string {
  return page(`${zh} ${en}`, `<h1>${escapeHtml(zh)}<span class="en">${escapeHtml(en)}</span></h1>${detail === undefined ? '' : `<p>${escapeHtml(detail)}</p>`}`);
}
