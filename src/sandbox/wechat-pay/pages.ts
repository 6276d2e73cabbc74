/**
 * The buyer's side of WeChat Pay, simulated: the page a code_url or h5_url opens. Server-rendered,
 * bilingual (English, 中文), no external assets, phone-sized. Three endings: pay, decline, walk away.
 */
import { escapeHtml, formatMinor, standalonePage } from '../../kernel/index.ts';
import type { EmulatedOrder } from './store.ts';


const styles = `
:root{color-scheme:light dark;--fg:#1a1f36;--muted:#5c6578;--bg:#f4f6fa;--panel:#fff;--line:#e3e8ef;--accent:#07c160;--accent-fg:#fff;--bad:#c92a2a}
@media (prefers-color-scheme:dark){:root{--fg:#e9ecf2;--muted:#9aa3b5;--bg:#10131a;--panel:#1a1e27;--line:#2a303c;--accent:#2fd27f;--accent-fg:#10131a;--bad:#ff8787}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:16px;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif}
main{width:100%;max-width:420px;background:var(--panel);border:1px solid var(--line);border-radius:14px;padding:24px}
.badge{display:inline-block;margin:0 0 12px;padding:2px 10px;border-radius:999px;border:1px dashed var(--muted);color:var(--muted);font-size:13px}
h1{font-size:20px;line-height:1.3;margin:0 0 4px}
.zh{display:block;color:var(--muted);font-size:.9em;font-weight:normal}
.amount{font-size:36px;font-weight:700;text-align:center;margin:16px 0 4px;font-variant-numeric:tabular-nums}
p{margin:12px 0;color:var(--muted)}
dl{margin:16px 0;padding:12px 16px;border:1px solid var(--line);border-radius:10px;display:grid;grid-template-columns:auto 1fr;gap:6px 16px}
dt{color:var(--muted)}dd{margin:0;text-align:right;font-weight:600;word-break:break-all}
form{display:grid;gap:10px;margin-top:20px}
button{display:block;width:100%;padding:12px 16px;border-radius:10px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);
font:inherit;font-weight:600;text-align:center;cursor:pointer}
button small{display:block;font-weight:normal;opacity:.85}
button.secondary{background:transparent;color:var(--bad);border-color:var(--bad)}
button.plain{background:transparent;color:var(--muted);border-color:var(--line)}
button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
`;

function page(title: string, body: string): string {
  return standalonePage({ lang: 'zh-CN', title, styles, body: `<p class="badge">WeChat Pay sandbox · 微信支付测试环境</p>\n${body}` });
}

function bilingual(en: string, zh: string): string {
  return `${escapeHtml(en)}<span class="zh" lang="zh-CN">${escapeHtml(zh)}</span>`;
}

const stateNames: Readonly<Record<EmulatedOrder['tradeState'], [string, string]>> = {
  NOTPAY: ['Waiting for payment', '待支付'],
  SUCCESS: ['Paid', '支付成功'],
  REFUND: ['Paid, refunded', '已支付，已转入退款'],
  CLOSED: ['Closed', '订单已关闭'],
  REVOKED: ['Revoked', '已撤销'],
  USERPAYING: ['Paying', '用户支付中'],
  PAYERROR: ['Payment failed', '支付失败'],
};

export function buyerPage(order: EmulatedOrder, hidden: Readonly<Record<string, string>>): string {
  const fields = Object.entries(hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  const [stateEn, stateZh] = stateNames[order.tradeState];
  const open = order.tradeState === 'NOTPAY';
  return page(
    '微信支付 · WeChat Pay',
    `<h1>${bilingual('Confirm payment', '确认付款')}</h1>
<p class="amount">¥${escapeHtml(formatMinor(order.total, 'cny'))}</p>
<dl>
<dt>${bilingual('Item', '商品')}</dt><dd>${escapeHtml(order.description)}</dd>
<dt>${bilingual('Order', '商户订单号')}</dt><dd>${escapeHtml(order.outTradeNo)}</dd>
<dt>${bilingual('Status', '状态')}</dt><dd data-state="${order.tradeState}">${bilingual(stateEn, stateZh)}</dd>
</dl>
${
  open
    ? `<form method="post" action="pay">${fields}
<button type="submit" name="action" value="pay">Pay<small lang="zh-CN">确认支付</small></button>
<button type="submit" name="action" value="decline" class="secondary">Decline<small lang="zh-CN">拒绝（支付失败）</small></button>
<button type="submit" name="action" value="walk_away" class="plain">Walk away<small lang="zh-CN">离开，不支付</small></button>
</form>`
    : `<p>${bilingual('This order can no longer be paid.', '该订单已无法支付。')}</p>`
}`,
  );
}

export function resultPage(order: EmulatedOrder | undefined, message: { en: string; zh: string }, redirectUrl: string | undefined): string {
  const [stateEn, stateZh] = order === undefined ? ['Unknown', '未知'] : stateNames[order.tradeState];
  const back = redirectUrl === undefined ? '' : `<p><a href="${escapeHtml(redirectUrl)}">${bilingual('Back to the merchant', '返回商户')}</a></p>`;
  return page(
    '微信支付 · WeChat Pay',
    `<h1>${bilingual(message.en, message.zh)}</h1>
<dl><dt>${bilingual('Status', '状态')}</dt><dd data-state="${order?.tradeState ?? ''}">${bilingual(stateEn, stateZh)}</dd></dl>
${back}`,
  );
}
