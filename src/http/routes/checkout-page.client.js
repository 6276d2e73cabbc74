// Fenpay hosted checkout: the page's one script. Plain ES2020, no dependencies, no third-party hosts.
// Card data is posted only to Fenpay's tokenization endpoint for this session; it is never put in a
// URL, stored, or logged. Every call carries the session's page secret in a header (no cookies).
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('fp-data').textContent);
  var t = data.t;
  var base = '/c/api/' + data.sessionId + '/';
  var $ = function (id) { return document.getElementById(id); };
  var statusBox = $('status');
  var payForm = $('pay-form');
  var payButton = $('pay-button');
  var qrPanel = $('qr-panel');
  var donePanel = $('done-panel');
  var busy = false;
  var pollTimer = null;
  var total = ($('total') || {}).textContent || '';
  var mobile = window.matchMedia('(max-width: 640px)').matches || /Mobi|Android|iPhone/i.test(navigator.userAgent);

  function api(path, body) {
    var init = { method: body === undefined ? 'GET' : 'POST', headers: { 'X-Checkout-Secret': data.secret, Accept: 'application/json' }, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(base + path, init).then(function (res) {
      return res.json().then(function (json) { return { ok: res.ok, status: res.status, json: json }; });
    }, function () { return { ok: false, status: 0, json: { error: { code: 'network' } } }; });
  }

  function message(code, declineCode) {
    var e = t.errors;
    if (code === 'card_declined' && declineCode && e[declineCode]) return e[declineCode];
    return e[code] || e.generic;
  }

  function showStatus(text, info) {
    statusBox.textContent = text || '';
    statusBox.className = 'status' + (info ? ' info' : '');
    if (text && !info) statusBox.focus();
  }

  function setBusy(on, label) {
    busy = on;
    payButton.disabled = on;
    payButton.setAttribute('aria-busy', on ? 'true' : 'false');
    payButton.textContent = on ? (label || t.processing) : payButton.getAttribute('data-label') + ' ' + total;
  }

  // ---- order summary -----------------------------------------------------------------------------
  function redraw(state) {
    if (!state || !state.display) return;
    var d = state.display;
    total = d.total;
    $('subtotal').textContent = d.subtotal;
    $('total').textContent = d.total;
    $('total-big').textContent = d.total;
    var sheetTotal = $('sheet-total');
    if (sheetTotal) sheetTotal.textContent = d.total;
    $('discount-row').hidden = !d.discount;
    $('discount').textContent = d.discount ? '\u2212' + d.discount : '';
    $('discount-label').textContent = d.discount_label || '';
    var remove = $('promo-remove');
    if (remove) remove.hidden = !d.discount_label;
    if (!busy) setBusy(false);
  }

  // ---- countdown ---------------------------------------------------------------------------------
  var countdown = $('countdown');
  function tick() {
    var left = Math.max(0, data.expiresAt - Math.floor(Date.now() / 1000));
    var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    countdown.textContent = (h > 0 ? h + ':' + String(m).padStart(2, '0') : String(m)) + ':' + String(s).padStart(2, '0');
    if (left === 0) { clearInterval(clock); expired(); }
  }
  var clock = setInterval(tick, 1000);
  tick();

  function expired() {
    stopPolling();
    payForm.hidden = true;
    qrPanel.hidden = true;
    showStatus(t.errors.checkout_session_expired);
    var cancel = $('cancel-link');
    if (cancel) cancel.focus();
  }

  // ---- promotion codes ---------------------------------------------------------------------------
  var promoForm = $('promo-form');
  if (promoForm) {
    var promoInput = $('promo');
    var promoError = $('promo-error');
    var sendPromo = function (code) {
      promoError.textContent = '';
      promoInput.removeAttribute('aria-invalid');
      var body = { code: code };
      var email = $('email');
      if (email && email.value) body.email = email.value.trim();
      $('promo-apply').disabled = true;
      api('promotion_code', body).then(function (r) {
        $('promo-apply').disabled = false;
        if (r.ok) { redraw(r.json); if (code === null) promoInput.value = ''; return; }
        var code2 = r.json.error && r.json.error.code;
        if (code2 === 'checkout_session_expired') return expired();
        promoError.textContent = message(code2);
        promoInput.setAttribute('aria-invalid', 'true');
        promoInput.focus();
      });
    };
    promoForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var code = promoInput.value.trim();
      if (code) sendPromo(code);
    });
    $('promo-remove').addEventListener('click', function () { sendPromo(null); });
  }

  // ---- payment method choice ---------------------------------------------------------------------
  var cardFields = $('card-fields');
  function method() {
    var checked = document.querySelector('input[name="method"]:checked');
    return checked ? checked.value : data.methods[0];
  }
  function syncMethod() { if (cardFields) cardFields.hidden = method() !== 'card'; }
  Array.prototype.forEach.call(document.querySelectorAll('input[name="method"]'), function (el) { el.addEventListener('change', syncMethod); });
  syncMethod();

  // ---- card form checks --------------------------------------------------------------------------
  var brands = [
    ['amex', /^3[47]/, [15], 4],
    ['visa', /^4/, [13, 16, 19], 3],
    ['mastercard', /^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))/, [16], 3],
    ['jcb', /^35(2[89]|[3-8])/, [16, 17, 18, 19], 3],
    ['unionpay', /^62/, [16, 17, 18, 19], 3],
    ['discover', /^(6011|65|64[4-9])/, [16, 19], 3],
    ['diners', /^3(0[0-5]|[689])/, [14, 16, 19], 3]
  ];
  var brandNames = { amex: 'Amex', visa: 'Visa', mastercard: 'Mastercard', jcb: 'JCB', unionpay: 'UnionPay', discover: 'Discover', diners: 'Diners' };
  function brandOf(digits) {
    for (var i = 0; i < brands.length; i++) if (brands[i][1].test(digits)) return brands[i];
    return null;
  }
  function luhn(digits) {
    var sum = 0, dbl = false;
    for (var i = digits.length - 1; i >= 0; i--) {
      var d = digits.charCodeAt(i) - 48;
      if (dbl) { d *= 2; if (d > 9) d -= 9; }
      sum += d; dbl = !dbl;
    }
    return sum % 10 === 0;
  }
  function fieldError(input, errorId, text) {
    $(errorId).textContent = text || '';
    if (text) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    return !text;
  }
  var number = $('cc-number'), exp = $('cc-exp'), csc = $('cc-csc');
  function numberDigits() { return number.value.replace(/\D/g, ''); }
  if (number) {
    number.addEventListener('input', function () {
      var digits = numberDigits().slice(0, 19);
      var brand = brandOf(digits);
      var groups = brand && brand[0] === 'amex' ? [4, 6, 5] : [4, 4, 4, 4, 3];
      var out = [], at = 0;
      for (var g = 0; g < groups.length && at < digits.length; g++) { out.push(digits.slice(at, at + groups[g])); at += groups[g]; }
      number.value = out.join(' ');
      $('cc-brand').textContent = brand ? brandNames[brand[0]] : '';
      csc.maxLength = brand && brand[0] === 'amex' ? 4 : 3;
      if (number.getAttribute('aria-invalid')) checkNumber();
    });
    number.addEventListener('blur', function () { if (number.value) checkNumber(); });
    exp.addEventListener('input', function (ev) {
      var digits = exp.value.replace(/\D/g, '').slice(0, 4);
      if (digits.length === 1 && digits > '1') digits = '0' + digits;
      var deleting = ev.inputType && ev.inputType.indexOf('delete') === 0;
      exp.value = digits.length >= 2 && !(deleting && digits.length === 2) ? digits.slice(0, 2) + ' / ' + digits.slice(2) : digits;
    });
    exp.addEventListener('blur', function () { if (exp.value) checkExpiry(); });
    csc.addEventListener('input', function () { csc.value = csc.value.replace(/\D/g, '').slice(0, 4); });
  }
  function checkNumber() {
    var digits = numberDigits();
    var brand = brandOf(digits);
    var lengths = brand ? brand[2] : [12, 13, 14, 15, 16, 17, 18, 19];
    return fieldError(number, 'cc-number-error', lengths.indexOf(digits.length) >= 0 && luhn(digits) ? '' : t.errors.number);
  }
  function expiryParts() {
    var digits = exp.value.replace(/\D/g, '');
    if (digits.length !== 4) return null;
    var month = Number(digits.slice(0, 2)), year = 2000 + Number(digits.slice(2));
    if (month < 1 || month > 12) return null;
    var now = new Date();
    if (year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1) || year > now.getFullYear() + 50) return null;
    return { month: month, year: year };
  }
  function checkExpiry() { return fieldError(exp, 'cc-exp-error', expiryParts() ? '' : t.errors.expiry); }
  function checkCvc() {
    var brand = brandOf(numberDigits());
    var need = brand ? brand[3] : 3;
    return fieldError(csc, 'cc-csc-error', csc.value.length === need ? '' : t.errors.cvc);
  }
  function checkEmail() {
    var email = $('email');
    if (!email) return true;
    return fieldError(email, 'email-error', /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.value.trim()) ? '' : t.errors.email);
  }
  function emailValue() { var email = $('email'); return email ? email.value.trim() : undefined; }

  // ---- paying ------------------------------------------------------------------------------------
  function tokenize(card) {
    return api('payment_methods', card).then(function (r) {
      if (!r.ok) throw r.json.error || { code: 'generic' };
      return r.json.id;
    });
  }

  function pay(body) {
    body.device = mobile ? 'mobile' : 'desktop';
    var email = emailValue();
    if (email) body.email = email;
    return api('pay', body).then(function (r) {
      if (!r.ok) throw r.json.error || { code: 'generic' };
      return r.json;
    });
  }

  function fail(error) {
    setBusy(false);
    var code = error && error.code;
    if (code === 'checkout_session_expired') return expired();
    if (code === 'checkout_session_completed') return refresh();
    if (code === 'incorrect_number' && number) fieldError(number, 'cc-number-error', t.errors.incorrect_number);
    if (code === 'incorrect_cvc' && csc) fieldError(csc, 'cc-csc-error', t.errors.incorrect_cvc);
    if (code === 'parameter_missing' && error.param === 'email') { checkEmail(); }
    showStatus(message(code, error && error.decline_code));
  }

  function handle(state) {
    redraw(state);
    if (state.status === 'complete') return done(state.success_url);
    if (state.status === 'expired') return expired();
    if (state.error) return fail(state.error);
    var p = state.payment;
    if (!p) return setBusy(false);
    if (p.status === 'succeeded' || p.status === 'processing') { showStatus(t.waiting, true); return startPolling(); }
    if (p.status === 'requires_action' && p.next_action) return act(p.next_action);
    if (p.status === 'requires_payment_method' && p.error) return fail(p.error);
    setBusy(false);
  }

  function act(next) {
    var type = next.type;
    var qr = type === 'display_qr_code' ? next.display_qr_code : type === 'wechat_pay_display_qr_code' ? next.wechat_pay_display_qr_code : null;
    if (qr) {
      payForm.hidden = true;
      qrPanel.hidden = false;
      $('qr-title').textContent = type === 'display_qr_code' ? t.scanAlipay : t.scanWechat;
      $('qr-image').src = qr.image_url_png || qr.image_data_url;
      $('qr-image').alt = $('qr-title').textContent;
      var link = $('qr-link');
      var isUrl = /^https?:\/\//.test(qr.data);
      link.hidden = !(isUrl && !data.livemode);
      if (isUrl) link.href = qr.data;
      showStatus('');
      $('switch-method').focus();
      return startPolling();
    }
    var url = type === 'redirect_to_url' ? next.redirect_to_url.url : type === 'alipay_handle_redirect' ? next.alipay_handle_redirect.url : null;
    if (url) { showStatus(t.redirecting, true); window.location.assign(url); return; }
    fail({ code: 'generic' });
  }

  function done(url) {
    stopPolling();
    clearInterval(clock);
    payForm.hidden = true;
    qrPanel.hidden = true;
    showStatus('');
    donePanel.hidden = false;
    var link = $('done-link');
    link.href = url;
    link.focus();
    setTimeout(function () { window.location.assign(url); }, 600);
  }

  function startPolling() {
    stopPolling();
    pollTimer = setInterval(function () {
      api('state').then(function (r) {
        if (!r.ok) return;
        var s = r.json;
        if (s.status === 'complete') return done(s.success_url);
        if (s.status === 'expired') return expired();
        var p = s.payment;
        if (p && p.status === 'requires_payment_method') { stopPolling(); qrPanel.hidden = true; payForm.hidden = false; if (p.error) fail(p.error); else setBusy(false); }
      });
    }, 1000);
  }
  function stopPolling() { if (pollTimer) clearInterval(pollTimer); pollTimer = null; }
  function refresh() { api('state').then(function (r) { if (r.ok) handle(r.json); }); }

  payForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (busy) return;
    showStatus('');
    var m = method();
    var ok = checkEmail();
    if (m === 'card') {
      ok = checkNumber() && ok;
      ok = checkExpiry() && ok;
      ok = checkCvc() && ok;
    }
    if (!ok) {
      var bad = payForm.querySelector('[aria-invalid="true"]');
      if (bad) bad.focus();
      return;
    }
    setBusy(true);
    var go;
    if (m === 'card') {
      var e = expiryParts();
      var name = $('cc-name').value.trim();
      var card = { number: numberDigits(), exp_month: e.month, exp_year: e.year, cvc: csc.value };
      if (name) card.name = name;
      go = tokenize(card).then(function (pm) { return pay({ method: 'card', payment_method: pm }); });
    } else {
      go = pay({ method: m });
    }
    go.then(handle, fail);
  });

  $('switch-method').addEventListener('click', function () {
    stopPolling();
    qrPanel.hidden = true;
    payForm.hidden = false;
    setBusy(false);
    var first = document.querySelector('input[name="method"]:not(:checked)');
    if (first) first.focus();
  });

  // ---- Apple Pay / Google Pay: in test mode a sandbox sheet that returns a test card token ----------
  var sheet = $('wallet-sheet');
  ['apple-pay', 'google-pay'].forEach(function (id) {
    var button = $(id);
    if (!button) return;
    button.addEventListener('click', function () {
      if (busy) return;
      if (!checkEmail()) { $('email').focus(); return; }
      showStatus('');
      sheet.showModal();
    });
  });
  if (sheet) {
    sheet.addEventListener('close', function () {
      if (sheet.returnValue !== 'pay') return;
      var chosen = sheet.querySelector('input[name="sheet-card"]:checked').value;
      var now = new Date();
      setBusy(true);
      tokenize({ number: chosen, exp_month: 12, exp_year: now.getFullYear() + 3 })
        .then(function (pm) { return pay({ method: 'card', payment_method: pm }); })
        .then(handle, fail);
    });
  }

  // ---- back from a redirect (3-D Secure, wallet page) ----------------------------------------------
  if (data.errorCode) showStatus(message(data.errorCode));
  if (data.pending) {
    // Back from a wallet's page: show the QR again if there is one; never send the payer to pay twice.
    api('state').then(function (r) {
      if (!r.ok) return;
      var s = r.json, p = s.payment;
      if (s.status === 'complete') return done(s.success_url);
      var n = p && p.next_action;
      if (n && (n.type === 'display_qr_code' || n.type === 'wechat_pay_display_qr_code')) return handle(s);
      showStatus(t.waiting, true);
      startPolling();
    });
  }
})();
