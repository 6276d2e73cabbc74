/**
 * The hosted checkout page's HTML (server-rendered, English and Simplified Chinese) and its styles.
 * The page works from this HTML alone for reading; its one script (checkout-page.client.js) adds the
 * card form checks, payments and polling. No third-party host is named anywhere.
 */
import { formatMinor } from '../../kernel/index.ts';

export type PageLocale = 'en' | 'zh';

const symbols: Readonly<Record<string, string>> = { cny: '¥', jpy: '¥', usd: '$', eur: '€', gbp: '£', hkd: 'HK$', sgd: 'S$', aud: 'A$', cad: 'C$' };

export function formatAmount(amount: bigint, currency: string): string {
  const symbol = symbols[currency];
  const [whole = '0', fraction] = formatMinor(amount, currency).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const number = fraction === undefined ? grouped : `${grouped}.${fraction}`;
  return symbol === undefined ? `${number} ${currency.toUpperCase()}` : `${symbol}${number}`;
}

/** Chooses the page language: the session's `locale`, else the browser's Accept-Language, else English. */
export function pickLocale(sessionLocale: string | null, acceptLanguage: string | undefined): PageLocale {
  if (sessionLocale !== null && sessionLocale !== 'auto') return sessionLocale.startsWith('zh') ? 'zh' : 'en';
  const ranked = (acceptLanguage ?? '')
    .split(',')
    .map((part, i) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { tag: tag.toLowerCase(), q: q === undefined ? 1 : Number(q.slice(2)) || 0, i };
    })
    .filter((r) => r.tag !== '' && r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { tag } of ranked) {
    if (tag.startsWith('zh')) return 'zh';
    if (tag.startsWith('en')) return 'en';
  }
  return 'en';
}

export const strings = {
  en: {
    title: 'Checkout',
    testMode: 'Test mode',
    back: 'Back',
    orderSummary: 'Order summary',
    qty: 'Qty',
    subtotal: 'Subtotal',
    discount: 'Discount',
    total: 'Total due',
    expiresIn: 'This page expires in',
    promoLabel: 'Promotion code',
    promoApply: 'Apply',
    promoRemove: 'Remove',
    promoApplied: 'applied',
    email: 'Email',
    methodLegend: 'Payment method',
    card: 'Card',
    alipay: 'Alipay',
    wechat_pay: 'WeChat Pay',
    unionpay: 'UnionPay',
    applePay: 'Pay with Apple Pay',
    googlePay: 'Pay with Google Pay',
    or: 'or pay another way',
    cardNumber: 'Card number',
    expiry: 'Expiry (MM / YY)',
    cvc: 'Security code (CVC)',
    cardName: 'Name on card',
    pay: 'Pay',
    processing: 'Processing…',
    scanAlipay: 'Scan with the Alipay app to pay',
    scanWechat: 'Scan with WeChat to pay',
    openOnDevice: 'Open the payment page on this device',
    waiting: 'Waiting for your payment…',
    otherMethod: 'Use another payment method',
    redirecting: 'Taking you to complete the payment…',
    paid: 'Payment complete',
    paidText: 'Thank you. Returning you to the merchant…',
    continue: 'Continue',
    expiredTitle: 'This checkout has expired',
    expiredText: 'The time to pay for this order has run out. Return to the merchant to start again.',
    completeTitle: 'This order is already paid',
    returnToMerchant: 'Return to the merchant',
    notFound: 'This checkout link is not valid.',
    secure: 'Payments are processed securely by Fenpay. Card details go only to Fenpay.',
    sheetTitle: 'Sandbox wallet',
    sheetText: 'Test mode: choose a test card. A real device would show its own wallet sheet.',
    sheetPay: 'Pay',
    sheetCancel: 'Cancel',
    errors: {
      card_declined: 'Your card was declined. Try another card or another payment method.',
      insufficient_funds: 'Your card has insufficient funds. Try another card or another payment method.',
      lost_card: 'Your card was declined. Try another card.',
      stolen_card: 'Your card was declined. Try another card.',
      expired_card: 'Your card has expired. Check the expiry date or use another card.',
      incorrect_cvc: 'The security code (CVC) is incorrect.',
      incorrect_number: 'The card number is incorrect.',
      invalid_expiry_month: 'The expiry month is invalid.',
      invalid_expiry_year: 'The expiry date is invalid or in the past.',
      processing_error: 'The payment could not be processed. Please try again.',
      payment_intent_authentication_failure: 'Card authentication (3-D Secure) failed. Try again or use another card.',
      promotion_code_invalid: 'This promotion code is not valid.',
      promotion_code_expired: 'This promotion code has expired.',
      promotion_code_redemption_limit_reached: 'This promotion code has been used up.',
      promotion_code_first_time_only: 'This promotion code is for first-time customers only.',
      promotion_code_minimum_not_met: 'Your order is below the minimum for this promotion code.',
      promotion_codes_not_allowed: 'This order does not take promotion codes.',
      checkout_session_expired: 'This checkout has expired. Return to the merchant to start again.',
      checkout_session_completed: 'This order is already paid.',
      checkout_session_payment_in_progress: 'A payment is already being processed. Please wait.',
      email: 'Enter a valid email address.',
      number: 'Enter a valid card number.',
      expiry: 'Enter a valid expiry date in the future.',
      cvc: 'Enter the 3 or 4 digit security code.',
      network: 'Could not reach the server. Check your connection and try again.',
      generic: 'Something went wrong. Please try again.',
    },
  },
  zh: {
    title: '收银台',
    testMode: '测试模式',
    back: '返回',
    orderSummary: '订单摘要',
    qty: '数量',
    subtotal: '小计',
    discount: '优惠',
    total: '应付金额',
    expiresIn: '本页面将在以下时间后过期',
    promoLabel: '优惠码',
    promoApply: '使用',
    promoRemove: '移除',
    promoApplied: '已使用',
    email: '电子邮箱',
    methodLegend: '支付方式',
    card: '银行卡',
    alipay: '支付宝',
    wechat_pay: '微信支付',
    unionpay: '银联',
    applePay: '使用 Apple Pay 支付',
    googlePay: '使用 Google Pay 支付',
    or: '或选择其他支付方式',
    cardNumber: '卡号',
    expiry: '有效期（月 / 年）',
    cvc: '安全码（CVC）',
    cardName: '持卡人姓名',
    pay: '支付',
    processing: '处理中…',
    scanAlipay: '请使用支付宝扫码支付',
    scanWechat: '请使用微信扫一扫支付',
    openOnDevice: '在本设备上打开支付页面',
    waiting: '正在等待支付结果…',
    otherMethod: '更换支付方式',
    redirecting: '正在跳转以完成支付…',
    paid: '支付成功',
    paidText: '谢谢！正在返回商户…',
    continue: '继续',
    expiredTitle: '本次收银已过期',
    expiredText: '本订单的支付时间已过。请返回商户重新下单。',
    completeTitle: '该订单已支付',
    returnToMerchant: '返回商户',
    notFound: '该收银链接无效。',
    secure: '支付由 Fenpay 安全处理，卡信息只发送给 Fenpay。',
    sheetTitle: '沙箱钱包',
    sheetText: '测试模式：请选择一张测试卡。真实设备会显示它自己的钱包界面。',
    sheetPay: '支付',
    sheetCancel: '取消',
    errors: {
      card_declined: '您的卡被拒绝。请换一张卡或其他支付方式。',
      insufficient_funds: '您的卡余额不足。请换一张卡或其他支付方式。',
      lost_card: '您的卡被拒绝。请换一张卡。',
      stolen_card: '您的卡被拒绝。请换一张卡。',
      expired_card: '您的卡已过期。请检查有效期或换一张卡。',
      incorrect_cvc: '安全码（CVC）不正确。',
      incorrect_number: '卡号不正确。',
      invalid_expiry_month: '有效期月份无效。',
      invalid_expiry_year: '有效期无效或已过期。',
      processing_error: '支付处理失败，请重试。',
      payment_intent_authentication_failure: '银行卡验证（3-D Secure）未通过。请重试或换一张卡。',
      promotion_code_invalid: '该优惠码无效。',
      promotion_code_expired: '该优惠码已过期。',
      promotion_code_redemption_limit_reached: '该优惠码已被用完。',
      promotion_code_first_time_only: '该优惠码仅限首次购买的顾客使用。',
      promotion_code_minimum_not_met: '订单金额未达到该优惠码的最低要求。',
      promotion_codes_not_allowed: '本订单不支持优惠码。',
      checkout_session_expired: '本次收银已过期，请返回商户重新下单。',
      checkout_session_completed: '该订单已支付。',
      checkout_session_payment_in_progress: '已有一笔支付正在处理中，请稍候。',
      email: '请输入有效的电子邮箱。',
      number: '请输入有效的卡号。',
      expiry: '请输入未过期的有效期。',
      cvc: '请输入 3 或 4 位安全码。',
      network: '无法连接服务器，请检查网络后重试。',
      generic: '出现问题，请重试。',
    },
  },
} as const;

export type PageStrings = (typeof strings)[PageLocale];

const escapes: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => escapes[c]!);
}

/** JSON inside a <script type="application/json"> block: `<` escaped so no text can close the block. */
export function jsonBlock(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export interface LineView {
  readonly name: string;
  readonly description: string | null;
  readonly quantity: number;
  readonly amount: string;
  readonly unit: string;
}

export interface PageView {
  readonly locale: PageLocale;
  readonly nonce: string;
  readonly scriptUrl: string;
  readonly merchantName: string;
  readonly livemode: boolean;
  readonly sessionId: string;
  readonly pageSecret: string;
  readonly lines: readonly LineView[];
  readonly subtotal: string;
  readonly discount: string | null;
  readonly discountLabel: string | null;
  readonly total: string;
  readonly totalMinor: string;
  readonly currency: string;
  readonly expiresAt: number;
  readonly allowPromotionCodes: boolean;
  readonly customerEmail: string | null;
  readonly methods: readonly string[];
  readonly cancelUrl: string | null;
  /** A message to show at once (the last payment's failure, after a redirect back). */
  readonly errorCode: string | null;
  /** The payment waits on the payer or the channel (came back from a wallet page): poll. */
  readonly pending: boolean;
}

export function renderPage(view: PageView): string {
  const t = strings[view.locale];
  const card = view.methods.includes('card');
  const wallets = card && !view.livemode;
  const methodOption = (m: string, i: number) =>
    `<label class="method"><input type="radio" name="method" value="${esc(m)}"${i === 0 ? ' checked' : ''}><span class="method-name">${esc((t as Record<string, unknown>)[m] as string)}</span></label>`;
  const data = {
    sessionId: view.sessionId,
    secret: view.pageSecret,
    expiresAt: view.expiresAt,
    livemode: view.livemode,
    methods: view.methods,
    errorCode: view.errorCode,
    pending: view.pending,
    t,
  };
  return `<!doctype html>
<html lang="${view.locale === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(t.title)} · ${esc(view.merchantName)}</title>
<style nonce="${view.nonce}">${css}</style>
</head>
<body>
<div class="wrap">
<header class="top">
${view.cancelUrl === null ? '' : `<a class="back" href="${esc(view.cancelUrl)}" id="cancel-link">← ${esc(t.back)}</a>`}
<span class="merchant">${esc(view.merchantName)}</span>
${view.livemode ? '' : `<span class="badge">${esc(t.testMode)}</span>`}
</header>
<main class="grid">
<section class="summary" aria-labelledby="summary-title">
<h1 id="summary-title" class="visually-hidden">${esc(t.orderSummary)}</h1>
<p class="total-big"><span class="label">${esc(t.total)}</span> <span id="total-big" data-testid="total">${esc(view.total)}</span></p>
<ul class="lines">
${view.lines
  .map(
    (l) =>
      `<li><span class="line-name">${esc(l.name)}${l.description === null ? '' : `<small>${esc(l.description)}</small>`}<small>${esc(t.qty)} ${l.quantity}${l.quantity > 1 ? ` × ${esc(l.unit)}` : ''}</small></span><span class="line-amount">${esc(l.amount)}</span></li>`,
  )
  .join('\n')}
</ul>
<dl class="totals">
<div><dt>${esc(t.subtotal)}</dt><dd id="subtotal">${esc(view.subtotal)}</dd></div>
<div id="discount-row"${view.discount === null ? ' hidden' : ''}><dt>${esc(t.discount)} <span id="discount-label">${esc(view.discountLabel ?? '')}</span></dt><dd id="discount">${esc(view.discount === null ? '' : `−${view.discount}`)}</dd></div>
<div class="grand"><dt>${esc(t.total)}</dt><dd id="total">${esc(view.total)}</dd></div>
</dl>
${
  view.allowPromotionCodes
    ? `<form id="promo-form" class="promo" novalidate>
<label for="promo">${esc(t.promoLabel)}</label>
<div class="row"><input id="promo" name="promo" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="200" aria-describedby="promo-error"${view.discountLabel === null ? '' : ` value="${esc(view.discountLabel)}"`}>
<button type="submit" id="promo-apply" class="secondary">${esc(t.promoApply)}</button><button type="button" id="promo-remove" class="link"${view.discountLabel === null ? ' hidden' : ''}>${esc(t.promoRemove)}</button></div>
<p id="promo-error" class="field-error" role="alert"></p>
</form>`
    : ''
}
<p class="expiry" id="expiry" aria-live="off">${esc(t.expiresIn)} <time id="countdown" data-expires="${view.expiresAt}">--:--</time></p>
</section>
<section class="pay" aria-labelledby="pay-title">
<h2 id="pay-title" class="visually-hidden">${esc(t.methodLegend)}</h2>
<div id="status" class="status" role="alert" aria-live="assertive" tabindex="-1"></div>
<form id="pay-form" novalidate>
${
  view.customerEmail === null
    ? `<div class="field"><label for="email">${esc(t.email)}</label><input id="email" name="email" type="email" autocomplete="email" inputmode="email" required aria-describedby="email-error"><p id="email-error" class="field-error"></p></div>`
    : `<p class="email-fixed">${esc(t.email)}: <strong>${esc(view.customerEmail)}</strong></p>`
}
${
  wallets
    ? `<div class="wallets"><button type="button" class="wallet apple" id="apple-pay" aria-label="${esc(t.applePay)}">Apple Pay</button><button type="button" class="wallet google" id="google-pay" aria-label="${esc(t.googlePay)}">Google Pay</button></div><p class="or"><span>${esc(t.or)}</span></p>`
    : ''
}
<fieldset class="methods"${view.methods.length === 1 ? ' hidden' : ''}>
<legend>${esc(t.methodLegend)}</legend>
${view.methods.map(methodOption).join('\n')}
</fieldset>
${
  card
    ? `<div id="card-fields" class="card-fields">
<div class="field"><label for="cc-number">${esc(t.cardNumber)}</label><div class="with-brand"><input id="cc-number" name="cc-number" autocomplete="cc-number" inputmode="numeric" placeholder="1234 1234 1234 1234" maxlength="23" aria-describedby="cc-number-error cc-brand" required><span id="cc-brand" class="brand" aria-live="polite"></span></div><p id="cc-number-error" class="field-error"></p></div>
<div class="pair">
<div class="field"><label for="cc-exp">${esc(t.expiry)}</label><input id="cc-exp" name="cc-exp" autocomplete="cc-exp" inputmode="numeric" placeholder="MM / YY" maxlength="7" aria-describedby="cc-exp-error" required><p id="cc-exp-error" class="field-error"></p></div>
<div class="field"><label for="cc-csc">${esc(t.cvc)}</label><input id="cc-csc" name="cc-csc" autocomplete="cc-csc" inputmode="numeric" placeholder="123" maxlength="4" aria-describedby="cc-csc-error" required><p id="cc-csc-error" class="field-error"></p></div>
</div>
<div class="field"><label for="cc-name">${esc(t.cardName)}</label><input id="cc-name" name="cc-name" autocomplete="cc-name" autocapitalize="words" spellcheck="false" maxlength="200"></div>
</div>`
    : ''
}
<button type="submit" id="pay-button" class="primary" data-label="${esc(t.pay)}">${esc(t.pay)} ${esc(view.total)}</button>
</form>
<div id="qr-panel" class="panel" hidden>
<p id="qr-title" class="panel-title"></p>
<img id="qr-image" alt="" width="220" height="220">
<p><a id="qr-link" href="#" target="_blank" rel="noopener">${esc(t.openOnDevice)}</a></p>
<p class="waiting" aria-live="polite">${esc(t.waiting)}</p>
<button type="button" id="switch-method" class="secondary">${esc(t.otherMethod)}</button>
</div>
<div id="done-panel" class="panel" hidden><p class="panel-title">${esc(t.paid)}</p><p>${esc(t.paidText)}</p><a id="done-link" class="button" href="#">${esc(t.continue)}</a></div>
<p class="secure">${esc(t.secure)}</p>
</section>
</main>
</div>
<dialog id="wallet-sheet" aria-labelledby="sheet-title">
<form method="dialog" id="sheet-form">
<h2 id="sheet-title">${esc(t.sheetTitle)}</h2>
<p>${esc(t.sheetText)}</p>
<fieldset><legend class="visually-hidden">${esc(t.card)}</legend>
<label class="method"><input type="radio" name="sheet-card" value="4242424242424242" checked><span>Visa •••• 4242</span></label>
<label class="method"><input type="radio" name="sheet-card" value="5555555555554444"><span>Mastercard •••• 4444</span></label>
<label class="method"><input type="radio" name="sheet-card" value="4000000000000002"><span>Visa •••• 0002 (declines)</span></label>
</fieldset>
<p class="sheet-total">${esc(t.total)}: <strong id="sheet-total">${esc(view.total)}</strong></p>
<div class="row"><button value="cancel" class="secondary" id="sheet-cancel">${esc(t.sheetCancel)}</button><button value="pay" class="primary" id="sheet-pay">${esc(t.sheetPay)}</button></div>
</form>
</dialog>
<script type="application/json" id="fp-data">${jsonBlock(data)}</script>
<script nonce="${view.nonce}" src="${esc(view.scriptUrl)}" defer></script>
</body>
</html>`;
}

/** A page with only a message: expired, already paid, not found. */
export function renderMessage(input: { locale: PageLocale; nonce: string; title: string; text: string; link: { href: string; label: string } | null; status: 'expired' | 'complete' | 'missing' }): string {
  return `<!doctype html>
<html lang="${input.locale === 'zh' ? 'zh-CN' : 'en'}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
<title>${esc(input.title)}</title><style nonce="${input.nonce}">${css}</style></head>
<body><div class="wrap"><main class="message" data-state="${input.status}"><h1>${esc(input.title)}</h1><p>${esc(input.text)}</p>${input.link === null ? '' : `<a class="button" href="${esc(input.link.href)}">${esc(input.link.label)}</a>`}</main></div></body></html>`;
}

const css = `
:root{--fg:#1a1f36;--muted:#5b6478;--line:#e3e6ee;--bg:#f6f8fb;--card:#fff;--accent:#3d5afe;--accent-fg:#fff;--bad:#c62828;--good:#1b873f;color-scheme:light}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"PingFang SC","Microsoft YaHei",sans-serif;color:var(--fg);background:var(--bg)}
.wrap{max-width:960px;margin:0 auto;padding:16px}
.top{display:flex;align-items:center;gap:12px;margin-bottom:12px}
.back{color:var(--muted);text-decoration:none}
.back:hover{text-decoration:underline}
.merchant{font-weight:600;font-size:18px}
.badge{background:#ffe9b3;color:#7a4b00;border-radius:4px;padding:2px 8px;font-size:12px;font-weight:600;text-transform:uppercase}
.grid{display:grid;grid-template-columns:1fr;gap:16px}
@media(min-width:760px){.grid{grid-template-columns:1fr 1fr;gap:40px}.wrap{padding:40px 24px}}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:20px}
.total-big{margin:0 0 12px;font-size:14px;color:var(--muted)}
.total-big span:last-child{display:block;font-size:32px;font-weight:700;color:var(--fg)}
.lines{list-style:none;margin:0;padding:0}
.lines li{display:flex;justify-content:space-between;gap:12px;padding:10px 0;border-bottom:1px solid var(--line)}
.line-name small{display:block;color:var(--muted);font-size:13px}
.line-amount{white-space:nowrap;font-weight:500}
.totals{margin:12px 0}
.totals div{display:flex;justify-content:space-between;padding:4px 0}
.totals dt,.totals dd{margin:0}
.totals .grand{font-weight:700;border-top:1px solid var(--line);padding-top:8px;margin-top:4px}
#discount-row dd{color:var(--good)}
.promo{margin-top:12px}
.row{display:flex;gap:8px;align-items:center}
.row input{flex:1}
label{display:block;font-size:14px;font-weight:500;margin-bottom:4px}
input{width:100%;font:inherit;padding:11px 12px;border:1px solid #c9cfdb;border-radius:8px;background:#fff;color:var(--fg);min-height:44px}
input:focus{outline:none;border-color:var(--accent);box-shadow:0 0 0 3px rgba(61,90,254,.25)}
input[aria-invalid=true]{border-color:var(--bad)}
.field{margin-bottom:12px}
.field-error{color:var(--bad);font-size:13px;margin:4px 0 0;min-height:0}
.field-error:empty{display:none}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.with-brand{position:relative}
.brand{position:absolute;right:10px;top:50%;transform:translateY(-50%);font-size:12px;font-weight:700;color:var(--muted);text-transform:uppercase}
button,.button{font:inherit;font-weight:600;border-radius:8px;padding:11px 16px;min-height:44px;cursor:pointer;border:1px solid var(--accent);display:inline-block;text-align:center;text-decoration:none}
button:focus-visible,.button:focus-visible,a:focus-visible,input[type=radio]:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.primary,.button{background:var(--accent);color:var(--accent-fg);width:100%}
.primary[disabled]{opacity:.6;cursor:progress}
.secondary{background:#fff;color:var(--accent)}
.link{background:none;border:none;color:var(--muted);text-decoration:underline;padding:8px}
.methods{border:none;padding:0;margin:0 0 12px;display:grid;gap:8px}
.methods legend{font-size:14px;font-weight:500;margin-bottom:6px;padding:0}
.method{display:flex;align-items:center;gap:10px;border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin:0;cursor:pointer;min-height:44px}
.method input{width:auto;min-height:0}
.method:has(input:checked){border-color:var(--accent);box-shadow:0 0 0 1px var(--accent)}
.wallets{display:grid;grid-template-columns:1fr 1fr;gap:8px}
.wallet{background:#000;color:#fff;border-color:#000}
.wallet.google{background:#fff;color:#3c4043;border-color:#dadce0}
.or{text-align:center;color:var(--muted);font-size:13px;margin:12px 0}
.status{border-radius:8px;padding:0;margin-bottom:0}
.status:not(:empty){padding:12px;margin-bottom:12px;background:#fdecea;color:var(--bad);border:1px solid #f5c2c0}
.status.info:not(:empty){background:#eef2ff;color:#23308c;border-color:#c7d0ff}
.panel{text-align:center}
.panel-title{font-weight:700;font-size:18px}
#qr-image{display:block;margin:8px auto;image-rendering:pixelated;border:1px solid var(--line);border-radius:8px}
.waiting{color:var(--muted)}
.expiry{color:var(--muted);font-size:13px;margin:12px 0 0}
.secure{color:var(--muted);font-size:12px;margin:16px 0 0}
.email-fixed{margin:0 0 12px}
.message{max-width:480px;margin:10vh auto;background:var(--card);border:1px solid var(--line);border-radius:12px;padding:24px;text-align:center}
dialog{border:none;border-radius:12px;padding:20px;max-width:360px;width:calc(100% - 32px)}
dialog::backdrop{background:rgba(10,20,40,.5)}
.visually-hidden{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
[hidden]{display:none!important}
@media(prefers-reduced-motion:no-preference){button{transition:background .15s}}
`;
