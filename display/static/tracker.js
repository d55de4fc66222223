/* The phone tracker: this ticket's position, estimated wait, and "your number has been called — go to window N".
 * Read-only: no action on the ticket. Shows nothing about other tickets: every change in the ticket's room or
 * queue only triggers a fresh GET /api/v1/track/<token>, which returns this ticket alone. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("screen-data").textContent);
  var TOKEN = DATA.token;
  var $ = function (id) { return document.getElementById(id); };
  var queueById = {};
  DATA.queues.forEach(function (q) { queueById[q.id] = q; });

  var T = {
    zh: {
      your_number: "您的号码", ahead_label: "前面等候", est_label: "预计等候", updated: "更新于",
      note: "本页只显示您这张号票的进度，不能办理、取消或更改业务。",
      ahead: function (n) { return n + " 人"; },
      est: function (m) { return m == null ? "—" : "约 " + Math.max(1, Math.round(m)) + " 分钟"; },
      waiting: function (t) { return t.ahead ? "请耐心等候，留意叫号" : "下一位就是您，请到等候区留意叫号"; },
      called: function (t) { return "您的号码已叫到 — 请到 " + t.window_number + " 号窗口"; },
      serving: function (t) { return "正在 " + t.window_number + " 号窗口办理"; },
      held: function (t) { return "暂缓办理，请在 " + (t.window_number || "") + " 号窗口附近等候"; },
      no_show: function () { return "已过号。如需继续办理，请到服务台咨询"; },
      done: function () { return "已办结，感谢您的耐心等候"; },
      cancelled: function () { return "此号已取消"; },
      closed: function () { return "此号已关闭（服务日已结束）"; },
      hall: DATA.hall.name.zh,
    },
    en: {
      your_number: "Your number", ahead_label: "Ahead of you", est_label: "Estimated wait", updated: "Updated",
      note: "This page only shows the progress of your own ticket; it cannot change or cancel anything.",
      ahead: function (n) { return n === 1 ? "1 person" : n + " people"; },
      est: function (m) { return m == null ? "—" : "about " + Math.max(1, Math.round(m)) + " min"; },
      waiting: function (t) { return t.ahead ? "Please wait and watch for your number" : "You are next — please stay near the screens"; },
      called: function (t) { return "Your number has been called — please go to window " + t.window_number; },
      serving: function (t) { return "Being served at window " + t.window_number; },
      held: function (t) { return "On hold — please wait near window " + (t.window_number || ""); },
      no_show: function () { return "Your number was missed. Please ask at the service desk"; },
      done: function () { return "Finished — thank you for waiting"; },
      cancelled: function () { return "This ticket was cancelled"; },
      closed: function () { return "This ticket was closed (the service day has ended)"; },
      hall: DATA.hall.name.en || DATA.hall.name.zh,
    },
  };
  // Tibetan: the hall's own names (hall, queues) exist in the config; interface text falls back to Chinese
  // until translated strings are provided.
  T.bo = Object.assign({}, T.zh, { hall: DATA.hall.name.bo || DATA.hall.name.zh });

  var saved = null;
  try { saved = localStorage.getItem("onewindow.lang"); } catch (e) { /* private mode */ }
  var navLang = (navigator.language || "zh").slice(0, 2);
  var lang = T[saved] ? saved : (navLang === "bo" ? "bo" : navLang === "en" ? "en" : "zh");
  var ticket = null, lastStatus = null, updatedAt = null;

  function queueName(t) {
    var q = queueById[t.queue_id];
    var n = q && q.name ? (q.name[lang] || q.name.zh) : t.queue_name;
    return n || "";
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
    if (!ticket) return;
    var card = $("tr-card");
    card.dataset.status = ticket.status;
    $("tr-number").textContent = ticket.number;
    $("tr-queue").textContent = queueName(ticket);
    var called = ticket.status === "called" && ticket.window_number;
    $("tr-called").hidden = !called;
    $("tr-called").textContent = called ? L.called(ticket) : "";
    var msg = L[ticket.status];
    $("tr-status").textContent = called ? "" : typeof msg === "function" ? msg(ticket) : "";
    var waiting = ticket.status === "waiting";
    $("tr-facts").hidden = !waiting;
    $("tr-ahead").textContent = waiting ? L.ahead(ticket.ahead || 0) : "—";
    $("tr-est").textContent = waiting ? L.est(ticket.estimated_wait_min) : "—";
    $("tr-updated").textContent = updatedAt ? updatedAt.toLocaleTimeString(lang === "en" ? "en-GB" : "zh-CN",
      { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }) : "—";
  }

  document.querySelectorAll(".tr-lang button").forEach(function (b) {
    b.addEventListener("click", function () {
      lang = b.dataset.lang;
      try { localStorage.setItem("onewindow.lang", lang); } catch (e) { /* ignore */ }
      render();
    });
  });

  var inflight = null, again = false;
  function refresh() {
    if (inflight) { again = true; return inflight; }
    inflight = fetch("/api/v1/track/" + encodeURIComponent(TOKEN), { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("track: HTTP " + r.status);
      return r.json();
    }).then(function (body) {
      var t = body.ticket || body;
      ticket = t;
      updatedAt = new Date();
      if (t.status === "called" && lastStatus !== "called" && lastStatus !== null && navigator.vibrate) {
        navigator.vibrate([300, 150, 300]);
      }
      lastStatus = t.status;
      render();
    }).finally(function () {
      inflight = null;
      if (again) { again = false; refresh(); }
    });
    return inflight;
  }

  var timer = null;
  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 150); }

  var banner = window.OneWindowLive.bindBanner(null, $("offline"), document.body);
  var feed = new window.OneWindowLive.LiveFeed({
    contiguous: false,
    subscription: { hall: false, ticket_token: TOKEN },
    onConnected: refresh,
    onEvent: function () { soon(); },
    onStatus: banner,
    checkEveryMs: 30000,
  });
  render();
  feed.start();
})();
