/* The phone tracker: this ticket's position, estimated wait, and "your number has been called — go to window N".
 * Read-only: no action on the ticket. Shows nothing about other tickets: every event of the ticket's queue (its
 * public live stream) only triggers a fresh GET /api/v1/track/<token>, which returns this ticket alone. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("screen-data").textContent);
  var TOKEN = DATA.token;
  var $ = function (id) { return document.getElementById(id); };
  var queueById = {};
  DATA.queues.forEach(function (q) { queueById[q.id] = q; });

  var I = new window.OneWindowI18n(DATA.i18n);
  var HALL = DATA.hall.name;
  var ticket = null, lastStatus = null, updatedAt = null;

  function queueName(t) {
    var q = queueById[t.queue_id];
    var n = q && q.name ? (q.name[I.lang] || q.name.zh) : t.queue_name;
    return n || "";
  }

  function est(t) {
    if (t.estimated_wait_min == null) return "—";
    var n = Math.max(1, Math.round(t.estimated_wait_min));
    return I.t(t.estimate_basis === "configured" ? "est_default" : "est", { n: n });
  }

  function statusLine(t) {
    var w = { window: t.window_number || "" };
    switch (t.status) {
      case "waiting": return t.ahead ? I.t("waiting") : I.t("waiting_next");
      case "serving": return I.t("serving", w);
      case "held": return I.t("held", w);
      case "no_show": case "done": case "cancelled": case "closed": return I.t(t.status);
      default: return "";
    }
  }

  function render() {
    I.apply();
    document.querySelector("[data-i18n-name=hall]").textContent = HALL[I.lang] || HALL.zh;
    if (!ticket) return;
    var card = $("tr-card");
    card.dataset.status = ticket.status;
    $("tr-number").textContent = ticket.number;
    $("tr-queue").textContent = queueName(ticket);
    var called = ticket.status === "called" && ticket.window_number;
    $("tr-called").hidden = !called;
    $("tr-called").textContent = called ? I.t("called", { window: ticket.window_number }) : "";
    $("tr-status").textContent = called ? "" : statusLine(ticket);
    var waiting = ticket.status === "waiting";
    $("tr-facts").hidden = !waiting;
    $("tr-ahead").textContent = waiting ? I.t("ahead", { n: ticket.ahead || 0 }) : "—";
    $("tr-est").textContent = waiting ? est(ticket) : "—";
    $("tr-updated").textContent = updatedAt ? updatedAt.toLocaleTimeString(I.lang === "en" ? "en-GB" : "zh-CN",
      { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }) : "—";
  }

  document.querySelectorAll(".tr-lang button").forEach(function (b) {
    b.addEventListener("click", function () {
      I.set(b.dataset.lang);
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
      feed.follow("queue:" + t.queue_id);  // its queue's events move it; a transfer moves it to another queue
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

  var timer = null, due = 0;
  function soon(ms) {
    var at = Date.now() + ms;
    if (timer && due <= at) return;  // a refresh is already due sooner
    clearTimeout(timer);
    due = at;
    timer = setTimeout(function () { timer = null; refresh(); }, ms);
  }
  // This ticket's own event: refresh now. Another ticket of its queue (its position, the estimate): within a few
  // seconds, spread out, so thousands of phones following one queue do not all ask at the same instant.
  function onQueueEvent(type, p) { soon(ticket && p && p.id === ticket.id ? 150 : 500 + Math.random() * 4500); }

  var banner = window.OneWindowLive.bindBanner(null, $("offline"), document.body);
  var feed = new window.OneWindowLive.LiveFeed({
    contiguous: false,
    stream: null,  // the ticket's queue, once the first read names it
    onConnected: refresh,
    onEvent: onQueueEvent,
    onStatus: banner,
    checkEveryMs: 30000,
  });
  render();
  refresh().then(function () { feed.start(); }, function () { feed.start(); });
})();
