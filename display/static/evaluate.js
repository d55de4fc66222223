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

  var T = {
    zh: {
      hall: DATA.hall.name.zh,
      title: "请对本次服务进行评价", submit: "提交评价", sending: "正在提交…",
      reason_title: "请告诉我们哪里做得不好（必选，可多选）", comment_label: "补充说明（选填；选“其他”时必填）",
      thanks_title: "感谢您的评价！", rated_title: "此次服务已评价",
      rated_text: "每次服务只能评价一次（一次一评），感谢您的参与。",
      expired_title: "评价链接已过期", expired_text: "如需反映意见，可在大厅自助终端评价或拨打投诉电话。",
      note: "评价只用于改进政务服务；本页不显示也不收集您的身份证号码等个人信息。",
      thanks_good: "您的评价已提交，我们会继续努力。",
      thanks_bad: function (due) {
        return "我们已收到您的意见，将核实整改" + (due ? "，并在 " + fmtDate(due) + " 前回复您" : "并回复您") + "。";
      },
      subject: function (f) {
        return (f.subject_kind === "case" ? "办件 " : "号票 ") + f.subject + (f.item_name ? " · " + f.item_name : "");
      },
      staff_line: function (f) { return f.window_number + " 号窗口 · " + f.staff_name + (f.post ? "（" + f.post + "）" : ""); },
      levels: {}, indicators: {},
      err: {
        need_reason: "请选择至少一项不满意的原因，再提交。",
        need_comment: "选择“其他”时，请简单写明哪里做得不好。",
        staff: "此浏览器登录了工作人员账号：工作人员不能代为评价。请办事群众用自己的手机或自助终端评价。",
        missing: "未找到这项评价，请重新扫描二维码。",
        network: "网络连接失败，请检查网络后重试。",
        other: "提交失败，请稍后重试。",
      },
      date: function (y, m, d) { return y + "年" + m + "月" + d + "日"; },
    },
    en: {
      hall: DATA.hall.name.en || DATA.hall.name.zh,
      title: "How was our service?", submit: "Send my rating", sending: "Sending…",
      reason_title: "Please tell us what went wrong (choose at least one)",
      comment_label: "Anything to add? (optional; required with “Other”)",
      thanks_title: "Thank you for your rating!", rated_title: "Already rated",
      rated_text: "Each service can be rated once. Thank you for taking part.",
      expired_title: "This rating link has expired",
      expired_text: "You can still give feedback at a kiosk in the hall or by calling the complaints line.",
      note: "Ratings are used only to improve our service; this page neither shows nor asks for your ID number or other " +
        "personal data.",
      thanks_good: "Your rating has been recorded. We will keep working to serve you well.",
      thanks_bad: function (due) {
        return "We have your feedback and will look into it" + (due ? " and reply to you by " + fmtDate(due) : " and reply to you") + ".";
      },
      subject: function (f) {
        return (f.subject_kind === "case" ? "Case " : "Ticket ") + f.subject + (f.item_name ? " · " + f.item_name : "");
      },
      staff_line: function (f) { return "Window " + f.window_number + " · " + f.staff_name + (f.post ? " (" + f.post + ")" : ""); },
      levels: { 5: "Very satisfied", 4: "Satisfied", 3: "Fairly satisfied", 2: "Dissatisfied", 1: "Very dissatisfied" },
      indicators: { 1: "Slow service", 2: "Poor attitude", 3: "Had to come back several times",
                    4: "Unclear about the materials", 5: "Other" },
      err: {
        need_reason: "Please choose at least one reason before sending.",
        need_comment: "With “Other”, please say in a few words what went wrong.",
        staff: "This browser is logged in as staff: staff cannot rate for a citizen. The citizen rates on their own " +
          "phone or at a kiosk.",
        missing: "This rating link is not valid; please scan the QR code again.",
        network: "No connection — please check your network and try again.",
        other: "Sending failed — please try again later.",
      },
      date: function (y, m, d) {
        return d + " " + ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m - 1] + " " + y;
      },
    },
  };
  // Tibetan: the hall's name from the config; interface text falls back to Chinese until translated strings exist.
  T.bo = Object.assign({}, T.zh, { hall: DATA.hall.name.bo || DATA.hall.name.zh });

  var saved = null;
  try { saved = localStorage.getItem("onewindow.lang"); } catch (e) { /* private mode */ }
  var navLang = (navigator.language || "zh").slice(0, 2);
  var lang = T[saved] ? saved : (navLang === "bo" ? "bo" : navLang === "en" ? "en" : "zh");

  var state = DATA.state;          // open | sending | thanks | rated | expired
  var level = null;                // chosen level 1..5
  var codes = {};                  // chosen indicator codes (差评 only)
  var errorKey = null, result = null;
  var levelLabel = {}, indicatorLabel = {};
  FORM.levels.forEach(function (l) { levelLabel[l.level] = l.label; });
  FORM.indicators.forEach(function (i) { indicatorLabel[i.code] = i.label; });

  function fmtDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    return m ? T[lang].date(+m[1], +m[2], +m[3]) : (iso || "");
  }
  function needsReason(lv) {
    var l = FORM.levels.filter(function (x) { return x.level === lv; })[0];
    return !!(l && l.needs_reason);
  }
  function chosenCodes() {
    return Object.keys(codes).filter(function (k) { return codes[k]; }).map(Number).sort();
  }

  function render() {
    var L = T[lang];
    document.documentElement.lang = lang === "zh" ? "zh-CN" : lang;
    document.querySelectorAll("[data-i18n]").forEach(function (e) {
      var v = L[e.dataset.i18n];
      if (typeof v === "string") e.textContent = v;
    });
    document.querySelector("[data-i18n-name=hall]").textContent = L.hall;
    document.querySelectorAll(".tr-lang button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
    });
    $("ev-main").dataset.state = state;
    $("ev-form").hidden = !(state === "open" || state === "sending");
    $("ev-thanks").hidden = state !== "thanks";
    $("ev-rated").hidden = state !== "rated";
    $("ev-expired").hidden = state !== "expired";
    if (FORM.subject) $("ev-subject").textContent = L.subject(FORM);
    if ($("ev-staff-line")) $("ev-staff-line").textContent = L.staff_line(FORM);
    document.querySelectorAll(".ev-level").forEach(function (b) {
      var lv = Number(b.dataset.level);
      b.querySelector(".label").textContent = L.levels[lv] || levelLabel[lv];
      b.setAttribute("aria-checked", String(lv === level));
    });
    var bad = level != null && needsReason(level);
    $("ev-reasons").hidden = !bad;
    document.querySelectorAll(".ev-ind").forEach(function (b) {
      var code = Number(b.dataset.code);
      b.textContent = L.indicators[code] || indicatorLabel[code];
      b.setAttribute("aria-pressed", String(!!codes[code]));
    });
    var sending = state === "sending";
    $("ev-submit").disabled = level == null || sending;
    $("ev-submit").textContent = sending ? L.sending : L.submit;
    var msg = errorKey ? L.err[errorKey] : null;
    $("ev-error").hidden = !msg;
    $("ev-error").textContent = msg || "";
    if (state === "thanks" && result) {
      $("ev-thanks-text").textContent = result.followup ? L.thanks_bad(result.followup.due_on) : L.thanks_good;
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
      lang = b.dataset.lang;
      try { localStorage.setItem("onewindow.lang", lang); } catch (e) { /* ignore */ }
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
