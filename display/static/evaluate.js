/* The citizen's rating page (/evaluate/<token>, the QR on a ticket or notice): five big levels (非常满意 … 非常不满意)
 * with the fixed indicators; 不满意 and 非常不满意 need a reason, asked for here before anything is sent. One rating
 * per service (一次一评): after it the page thanks, and a second visit shows "already rated".
 * The rating goes to POST /api/v1/evaluate/<token> with no staff credentials; the server refuses staff sessions. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("screen-data").textContent);
  var TOKEN = DATA.token;
  var FORM = DATA.form || { levels: [], indicators: [] };
  var $ = function (id) { return document.getElementById(id); };
  var OTHER = 5;  // indicator 其他: needs a few words

  var I = new window.OneWindowI18n(DATA.i18n);
  var HALL = DATA.hall.name;

  var state = DATA.state;          // open | sending | thanks | rated | expired
  var level = null;                // chosen level 1..5
  var codes = {};                  // chosen indicator codes (差评 only)
  var errorKey = null, result = null;
  var levelLabel = {}, indicatorLabel = {};
  FORM.levels.forEach(function (l) { levelLabel[l.level] = l.label; });
  FORM.indicators.forEach(function (i) { indicatorLabel[i.code] = i.label; });

  function fmtDate(iso) { return I.date(iso); }
  function subject(f) {
    var names = f.item_names || {};
    var item = f.item_name ? (names[I.lang] || f.item_name) : "";
    return I.t(f.subject_kind === "case" ? "subject_case" : "subject_ticket", { subject: f.subject }) +
      (item ? " · " + item + (I.lang !== "zh" && !names[I.lang] ? " (" + I.raw("in_chinese") + ")" : "") : "");
  }
  function staffLine(f) {
    return I.t("staff_line", { window: f.window_number, name: f.staff_name }) + (f.post ? I.t("staff_post", { post: f.post }) : "");
  }
  function needsReason(lv) {
    var l = FORM.levels.filter(function (x) { return x.level === lv; })[0];
    return !!(l && l.needs_reason);
  }
  function chosenCodes() {
    return Object.keys(codes).filter(function (k) { return codes[k]; }).map(Number).sort();
  }

  function render() {
    I.apply();
    document.querySelector("[data-i18n-name=hall]").textContent = HALL[I.lang] || HALL.zh;
    $("ev-main").dataset.state = state;
    $("ev-form").hidden = !(state === "open" || state === "sending");
    $("ev-thanks").hidden = state !== "thanks";
    $("ev-rated").hidden = state !== "rated";
    $("ev-expired").hidden = state !== "expired";
    if (FORM.subject) $("ev-subject").textContent = subject(FORM);
    if ($("ev-staff-line")) $("ev-staff-line").textContent = staffLine(FORM);
    document.querySelectorAll(".ev-level").forEach(function (b) {
      var lv = Number(b.dataset.level);
      b.querySelector(".label").textContent = I.raw("levels." + lv) || levelLabel[lv];
      b.setAttribute("aria-checked", String(lv === level));
    });
    var bad = level != null && needsReason(level);
    $("ev-reasons").hidden = !bad;
    document.querySelectorAll(".ev-ind").forEach(function (b) {
      var code = Number(b.dataset.code);
      b.textContent = I.raw("indicators." + code) || indicatorLabel[code];
      b.setAttribute("aria-pressed", String(!!codes[code]));
    });
    var sending = state === "sending";
    $("ev-submit").disabled = level == null || sending;
    $("ev-submit").textContent = sending ? I.t("sending") : I.t("submit");
    var msg = errorKey ? I.raw("err." + errorKey) : null;
    $("ev-error").hidden = !msg;
    $("ev-error").textContent = msg || "";
    if (state === "thanks" && result) {
      $("ev-thanks-text").textContent = result.followup ? (result.followup.due_on ? I.t("thanks_bad_due", { date: fmtDate(result.followup.due_on) }) : I.t("thanks_bad")) : I.t("thanks_good");
    }
  }

  function fail(key) {
    errorKey = key;
    state = "open";
    render();
    $("ev-error").scrollIntoView({ block: "center" });
  }

  document.querySelectorAll(".tr-lang button").forEach(function (b) {
    b.addEventListener("click", function () {
      I.set(b.dataset.lang);
      render();
    });
  });

  document.querySelectorAll(".ev-level").forEach(function (b) {
    b.addEventListener("click", function () {
      if (state !== "open") return;
      level = Number(b.dataset.level);
      if (!needsReason(level)) codes = {};
      errorKey = null;
      render();
      if (needsReason(level)) $("ev-reasons").scrollIntoView({ block: "nearest" });
    });
  });

  document.querySelectorAll(".ev-ind").forEach(function (b) {
    b.addEventListener("click", function () {
      if (state !== "open") return;
      var code = Number(b.dataset.code);
      codes[code] = !codes[code];
      errorKey = null;
      render();
    });
  });

  $("ev-submit").addEventListener("click", function () {
    if (state !== "open" || level == null) return;
    var bad = needsReason(level);
    var chosen = bad ? chosenCodes() : [];
    var comment = bad ? $("ev-comment").value.trim() : "";
    if (bad && !chosen.length) { fail("need_reason"); return; }
    if (bad && chosen.length === 1 && chosen[0] === OTHER && !comment) { fail("need_comment"); $("ev-comment").focus(); return; }
    state = "sending";
    errorKey = null;
    render();
    var payload = { level: level, indicators: chosen };
    if (comment) payload.comment = comment;
    fetch("/api/v1/evaluate/" + encodeURIComponent(TOKEN), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
      cache: "no-store",
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        var code = body && body.error ? body.error.code : null;
        if (r.status === 201) { result = body; state = "thanks"; render(); return; }
        if (code === "already_rated") { state = "rated"; render(); return; }
        if (code === "evaluation_expired") { state = "expired"; render(); return; }
        if (code === "staff_cannot_rate" || code === "csrf_failed") { fail("staff"); return; }
        if (code === "evaluation_not_found") { fail("missing"); return; }
        if (code === "reason_required") { fail(chosen.indexOf(OTHER) >= 0 && !comment ? "need_comment" : "need_reason"); return; }
        fail("other");
      });
    }).catch(function () { fail("network"); });
  });

  document.body.dataset.live = "static";
  render();
})();
