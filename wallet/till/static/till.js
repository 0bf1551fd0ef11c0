// The web till's script: find the shopper, quote, post, print, return. It talks only to
// /till/api (the server's twin of the POS API) and shows only the words the page gives it
// (data-words), so the page speaks the cashier's language.
"use strict";
(function () {
  const body = document.body;
  const T = JSON.parse(body.dataset.words);
  const CSRF = body.dataset.csrf;
  const LANG = body.dataset.lang === "en" ? "en" : "ru";
  const $ = (id) => document.getElementById(id);

  // What the cashier is doing: the shopper found, the last quote and the receipt it would
  // become. A receipt keeps its id and body until it posts, so a retry after a lost answer
  // is the same receipt (the server answers a repeated id with its first reply).
  const state = { shopper: null, quote: null, receipt: null, spendCode: "", pendingCode: null };

  // ---- what the server says -------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, reply) {
      super((reply && reply.message) || "HTTP " + status);
      this.status = status;
      this.code = (reply && reply.code) || "";
      this.details = reply && reply.details;
    }
  }

  async function api(method, path, payload) {
    const init = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = CSRF;
      init.body = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch("/till/api" + path, init);
    } catch (e) {
      throw new ApiError(0, { code: "network", message: T["error.network"] });
    }
    let reply = null;
    try {
      reply = await response.json();
    } catch (e) {
      reply = null;
    }
    if (!response.ok) {
      if (response.status === 401) {
        alert(T["error.session"]);
        location.assign("/till");
      }
      throw new ApiError(response.status, reply);
    }
    return reply;
  }

  function explain(error) {
    if (error.code === "shopper_not_found" || error.code === "card_not_found") return T["error.not_found"];
    if (error.status === 429) return T["error.too_many"];
    if (error.code === "redemption_over_cap" && error.details) {
      return T["quote.max"] + ": " + count(error.details.cap) + " " + T["quote.points"];
    }
    return error.message;
  }

  // ---- showing ---------------------------------------------------------------------------
  const money = (kopecks) =>
    new Intl.NumberFormat(LANG === "ru" ? "ru-RU" : "en-GB", { style: "currency", currency: "RUB" }).format(kopecks / 100);
  const count = (n) => new Intl.NumberFormat(LANG === "ru" ? "ru-RU" : "en-GB").format(n);

  function show(id, visible) {
    $(id).hidden = !visible;
  }

  function say(id, message) {
    const el = $(id);
    el.textContent = message || "";
    el.hidden = !message;
  }

  function row(label, value, extra) {
    const div = document.createElement("div");
    div.className = "row" + (extra ? " " + extra : "");
    const a = document.createElement("span");
    a.textContent = label;
    const b = document.createElement("b");
    b.textContent = value;
    div.append(a, b);
    return div;
  }

  function note(text) {
    const div = document.createElement("div");
    div.className = "note";
    div.textContent = text;
    return div;
  }

  function heading(text) {
    const h = document.createElement("h2");
    h.textContent = text;
    return h;
  }

  // ---- the shopper -----------------------------------------------------------------------
  async function find(query) {
    say("who-error", "");
    try {
      const found = await api("GET", "/shopper?q=" + encodeURIComponent(query));
      showShopper(found);
    } catch (error) {
      say("who-error", explain(error));
    }
  }

  function showShopper(found) {
    state.shopper = found;
    state.spendCode = "";
    resetSale();
    const card = found.card;
    $("shopper-name").textContent = found.name || T["who.anonymous"];
    // A shopper found by phone is named by an opaque reference: show how they were found,
    // not the reference.
    $("shopper-found").textContent = found.found_by === "phone" ? T["who.by_phone"] : groups(card.card_number);
    $("shopper-tier").textContent = card.tier;
    $("shopper-balance").textContent = count(card.balance);
    $("shopper-spendable").textContent = count(card.spendable_now);
    $("shopper-pending").textContent = count(card.pending);
    show("shopper-inactive", card.status !== "active");
    show("who-box", false);
    show("shopper", true);
    show("sale", card.status === "active");
    show("done-box", false);
    $("total").focus();
  }

  function groups(number) {
    return /^[0-9]{16}$/.test(number) ? number.replace(/(.{4})/g, "$1 ").trim() : number;
  }

  function forgetShopper() {
    state.shopper = null;
    resetSale();
    show("shopper", false);
    show("sale", false);
    show("done-box", false);
    show("who-box", true);
    $("who").value = "";
    $("who").focus();
  }

  // ---- the receipt being typed -----------------------------------------------------------
  function kopecks(text) {
    const clean = String(text).replace(/[\s\u00a0\u202f₽]/g, "").replace(",", ".");
    if (!/^[0-9]{1,9}(\.[0-9]{1,2})?$/.test(clean)) return null;
    const [whole, part] = clean.split(".");
    return parseInt(whole, 10) * 100 + parseInt(((part || "") + "00").slice(0, 2), 10);
  }

  function addLine() {
    const n = $("lines").children.length + 1;
    const div = document.createElement("div");
    div.className = "line";
    div.innerHTML =
      '<div><label></label><input type="text" class="category" list="categories" autocomplete="off" maxlength="64"></div>' +
      '<div><label></label><input type="text" class="amount" inputmode="decimal" autocomplete="off"></div>' +
      '<button type="button" class="btn light remove"></button>';
    const labels = div.querySelectorAll("label");
    labels[0].textContent = T["sale.category"];
    labels[1].textContent = T["sale.amount"];
    div.querySelector(".category").id = "line-" + n + "-category";
    div.querySelector(".amount").id = "line-" + n + "-amount";
    labels[0].htmlFor = "line-" + n + "-category";
    labels[1].htmlFor = "line-" + n + "-amount";
    const remove = div.querySelector(".remove");
    remove.textContent = T["sale.remove_line"];
    remove.addEventListener("click", () => {
      div.remove();
      staleQuote();
    });
    div.addEventListener("input", staleQuote);
    $("lines").append(div);
    return div;
  }

  // The receipt's lines as the POS API takes them, or an error to show.
  function lines() {
    if ($("mode-total").checked) {
      const amount = kopecks($("total").value);
      if (amount === null || amount === 0) return { error: T["sale.bad_amount"] };
      return { lines: [{ sku: "TOTAL", category: "other", quantity: 1, amount: amount }] };
    }
    const out = [];
    for (const div of $("lines").children) {
      const category = div.querySelector(".category").value.trim();
      const amount = kopecks(div.querySelector(".amount").value);
      if (!category) return { error: T["sale.need_category"] };
      if (amount === null) return { error: T["sale.bad_amount"] };
      out.push({ sku: "LINE-" + (out.length + 1), category: category, quantity: 1, amount: amount });
    }
    if (!out.length) return { error: T["sale.bad_amount"] };
    return { lines: out };
  }

  function redeemPoints() {
    const text = $("redeem").value.replace(/\s/g, "") || "0";
    return /^[0-9]{1,9}$/.test(text) ? parseInt(text, 10) : null;
  }

  function coupons() {
    const code = $("coupon").value.trim();
    return code ? [code] : [];
  }

  function withCode(payload) {
    // Quotes and receipts take the code the shopper was texted (a shopper found by phone).
    if (state.spendCode) payload.spend_code = state.spendCode;
    return payload;
  }

  function resetSale() {
    state.quote = null;
    state.receipt = null;
    $("total").value = "";
    $("coupon").value = "";
    $("redeem").value = "0";
    $("lines").innerHTML = "";
    $("mode-total").checked = true;
    switchMode();
    say("sale-error", "");
    show("quote-box", false);
    show("code-box", false);
  }

  function staleQuote() {
    if (state.quote) {
      state.quote = null;
      state.receipt = null;
      show("quote-box", false);
    }
  }

  function switchMode() {
    const byLines = $("mode-lines").checked;
    show("total-mode", !byLines);
    show("lines-mode", byLines);
    if (byLines && !$("lines").children.length) addLine();
    staleQuote();
  }

  // ---- quote, confirm --------------------------------------------------------------------
  async function quote(most) {
    say("sale-error", "");
    const sale = lines();
    if (sale.error) return say("sale-error", sale.error);
    const redeem = redeemPoints();
    if (redeem === null) return say("sale-error", T["sale.bad_amount"]);
    const occurred = new Date().toISOString();
    const asked = {
      card_number: state.shopper.card.card_number,
      lines: sale.lines,
      redeem_points: most ? 0 : redeem,
      occurred_at: occurred,
      coupons: coupons(),
    };
    try {
      let found = await api("POST", "/quotes", withCode(asked));
      if (most) {
        // The quote without redeeming says the most points may pay; ask again for that.
        asked.redeem_points = found.max_redeem_points;
        $("redeem").value = String(found.max_redeem_points);
        found = await api("POST", "/quotes", withCode(asked));
      }
      state.quote = found;
      state.receipt = {
        receipt_id: "W-" + Date.now().toString(36).toUpperCase() + "-" + Math.random().toString(36).slice(2, 6).toUpperCase(),
        card_number: asked.card_number,
        occurred_at: occurred,
        lines: asked.lines,
        redeem_points: found.redeemed_points,
        coupons: asked.coupons,
      };
      show("code-box", false);
      showQuote(found, asked.lines);
    } catch (error) {
      if (!askCode(error, () => quote(most))) say("sale-error", explain(error));
    }
  }

  function showQuote(q, sent) {
    const total = sent.reduce((sum, line) => sum + line.amount, 0);
    const figures = $("quote-figures");
    figures.replaceChildren(
      row(T["quote.total"], money(total)),
      row(T["quote.discount"], money(q.discount_kopecks), q.discount_kopecks ? "minus" : ""),
      row(T["quote.max"], count(q.max_redeem_points) + " " + T["quote.points"]),
      row(T["quote.redeemed"], count(q.redeemed_points) + " " + T["quote.points"] + " = " + money(q.redeemed_kopecks)),
      row(T["quote.paid"], money(q.paid_kopecks), "total"),
      row(T["quote.earned"], "+" + count(q.earned_points), "plus"),
    );
    const perLine = $("quote-lines");
    perLine.replaceChildren();
    if (q.lines.length > 1 || q.discount_kopecks || q.lines.some((l) => l.promotion_points.length)) {
      for (const line of q.lines) {
        perLine.append(
          row(T["quote.line"] + " " + line.line + " · " + line.category, money(line.amount - line.discount_kopecks)),
        );
        if (line.discount_kopecks) perLine.append(note(T["quote.discount"] + ": −" + money(line.discount_kopecks)));
        perLine.append(note("+" + count(line.earned_points) + " " + T["quote.points"]));
      }
    }
    const applied = $("quote-applied");
    applied.replaceChildren();
    if (q.promotions.length) {
      applied.append(heading(T["quote.applied"]));
      for (const p of q.promotions) {
        const parts = [];
        if (p.discount_kopecks) parts.push("−" + money(p.discount_kopecks));
        if (p.points) parts.push("+" + count(p.points) + " " + T["quote.points"]);
        applied.append(row(p.name, parts.join(" · "), "applied"));
      }
    }
    const missed = $("quote-not-applied");
    missed.replaceChildren();
    if (q.not_applied.length) {
      missed.append(heading(T["quote.not_applied"]));
      for (const p of q.not_applied) {
        const div = row(p.name, "", "not-applied");
        missed.append(div, note(LANG === "ru" ? p.reason_ru : p.reason_en));
      }
    }
    say("confirm-error", "");
    show("quote-box", true);
    $("confirm").disabled = false;
    $("quote-box").scrollIntoView({ block: "start" });
  }

  async function confirm() {
    if (!state.receipt) return;
    $("confirm").disabled = true;
    say("confirm-error", "");
    try {
      const done = await api("POST", "/receipts", withCode(Object.assign({}, state.receipt)));
      showDone(done);
    } catch (error) {
      $("confirm").disabled = false;
      if (!askCode(error, confirm)) say("confirm-error", explain(error));
    }
  }

  function showDone(r) {
    state.quote = null;
    state.receipt = null;
    const figures = $("done-figures");
    figures.replaceChildren(
      row(T["done.receipt"], r.receipt_id),
      row(T["done.when"], new Date(r.occurred_at).toLocaleString(LANG === "ru" ? "ru-RU" : "en-GB")),
      row(T["quote.total"], money(r.total_kopecks)),
      row(T["quote.discount"], money(r.discount_kopecks)),
      row(T["quote.redeemed"], count(r.redeemed_points) + " " + T["quote.points"] + " = " + money(r.redeemed_kopecks)),
      row(T["quote.paid"], money(r.paid_kopecks), "total"),
      row(T["done.earned"], "+" + count(r.earned_points), "plus"),
      row(T["done.balance"], count(r.balance_after)),
    );
    $("done-figures").querySelector(".row b").id = "done-receipt-id";
    // The shopper's figures as the receipt left them.
    $("shopper-balance").textContent = count(r.balance_after);
    $("shopper-spendable").textContent = count(r.balance_after);
    $("shopper-pending").textContent = count(r.pending_after);
    if (r.earned_points && r.earned_available_from && new Date(r.earned_available_from) > new Date()) {
      figures.append(row(T["done.earned_from"], new Date(r.earned_available_from).toLocaleDateString(LANG)));
    }
    show("sale", false);
    show("quote-box", false);
    show("code-box", false);
    show("done-box", true);
  }

  // ---- the spend-code contract (a shopper found by phone confirms spending points) -------
  // The server refuses a quote or receipt spending points with 422 spend_code_required or
  // spend_code_wrong; the cashier asks the shopper for the code and the same request goes
  // again with it. Returns whether the error was one of those.
  function askCode(error, retry) {
    if (error.code !== "spend_code_required" && error.code !== "spend_code_wrong") return false;
    state.pendingCode = retry;
    $("code-message").textContent = error.code === "spend_code_wrong" ? T["code.wrong"] : T["code.required"];
    $("code-status").textContent = "";
    $("spend-code").value = "";
    show("code-box", true);
    $("spend-code").focus();
    return true;
  }

  function submitCode() {
    state.spendCode = $("spend-code").value.replace(/\s/g, "");
    if (state.pendingCode) state.pendingCode();
  }

  async function resendCode() {
    $("code-status").textContent = "";
    try {
      await api("POST", "/spend-codes", { card_number: state.shopper.card.card_number });
      $("code-status").textContent = T["code.sent"];
    } catch (error) {
      $("code-status").textContent = explain(error);
    }
  }

  // ---- returns ---------------------------------------------------------------------------
  async function giveBack(receiptId) {
    say("return-error", "");
    $("return-result").replaceChildren();
    try {
      const r = await api("POST", "/returns", {
        receipt_id: receiptId,
        return_id: "R-" + receiptId.slice(0, 60),
        occurred_at: new Date().toISOString(),
      });
      $("return-result").replaceChildren(
        heading(T["return.done"]),
        row(T["return.id"], r.receipt_id),
        row(T["return.refund_money"], money(r.refund_money_kopecks), "total"),
        row(T["return.refunded_points"], "+" + count(r.refunded_points), "plus"),
        row(T["return.reversed_points"], "−" + count(r.reversed_points), "minus"),
        row(T["done.balance"], count(r.balance_after)),
      );
    } catch (error) {
      say("return-error", explain(error));
    }
  }

  // ---- the camera ------------------------------------------------------------------------
  // The browser's own BarcodeDetector where there is one (Chrome on Android), else the
  // vendored @zxing/library, loaded only when first needed.
  const scanner = { stream: null, timer: null, zxing: null };

  function loadZxing() {
    return new Promise((resolve, reject) => {
      if (window.ZXing) return resolve(window.ZXing);
      const script = document.createElement("script");
      script.src = "/till/assets/zxing.js";
      script.onload = () => resolve(window.ZXing);
      script.onerror = reject;
      document.head.append(script);
    });
  }

  async function scan() {
    say("who-error", "");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return say("who-error", T["who.no_camera"]);
    show("camera", true);
    const video = $("video");
    try {
      if ("BarcodeDetector" in window) {
        const detector = new window.BarcodeDetector({ formats: ["qr_code", "code_128", "pdf417"] });
        scanner.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        video.srcObject = scanner.stream;
        await video.play();
        scanner.timer = setInterval(async () => {
          const codes = await detector.detect(video).catch(() => []);
          if (codes.length) scanned(codes[0].rawValue);
        }, 200);
      } else {
        const ZXing = await loadZxing();
        const hints = new Map();
        hints.set(ZXing.DecodeHintType.POSSIBLE_FORMATS, [
          ZXing.BarcodeFormat.QR_CODE,
          ZXing.BarcodeFormat.CODE_128,
          ZXing.BarcodeFormat.PDF_417,
        ]);
        scanner.zxing = new ZXing.BrowserMultiFormatReader(hints);
        await scanner.zxing.decodeFromConstraints({ video: { facingMode: "environment" } }, video, (result) => {
          if (result) scanned(result.getText());
        });
      }
    } catch (error) {
      stopScan();
      say("who-error", T["who.no_camera"]);
    }
  }

  function stopScan() {
    if (scanner.timer) clearInterval(scanner.timer);
    if (scanner.zxing) scanner.zxing.reset();
    if (scanner.stream) scanner.stream.getTracks().forEach((track) => track.stop());
    scanner.timer = scanner.zxing = scanner.stream = null;
    show("camera", false);
  }

  function scanned(text) {
    stopScan();
    $("who").value = text;
    find(text);
  }

  // ---- wiring ----------------------------------------------------------------------------
  $("who-form").addEventListener("submit", (event) => {
    event.preventDefault();
    find($("who").value);
  });
  $("scan").addEventListener("click", scan);
  $("stop-scan").addEventListener("click", stopScan);
  $("other").addEventListener("click", forgetShopper);
  $("next").addEventListener("click", forgetShopper);
  $("mode-total").addEventListener("change", switchMode);
  $("mode-lines").addEventListener("change", switchMode);
  $("add-line").addEventListener("click", () => addLine().querySelector("input").focus());
  for (const id of ["total", "coupon", "redeem"]) $(id).addEventListener("input", staleQuote);
  $("quote").addEventListener("click", () => quote(false));
  $("redeem-max").addEventListener("click", () => quote(true));
  $("confirm").addEventListener("click", confirm);
  $("code-submit").addEventListener("click", submitCode);
  $("code-resend").addEventListener("click", resendCode);
  $("print").addEventListener("click", () => window.print());
  $("return-form").addEventListener("submit", (event) => {
    event.preventDefault();
    giveBack($("return-id").value.trim());
  });
  $("who").focus();
})();
