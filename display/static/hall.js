/* The hall screen: latest calls large, waiting counts per zone and queue, paused windows, the scrolling notice,
 * voice calls. State comes from the snapshot and then from every event of the hall, strictly in seq order. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("screen-data").textContent);
  var SITE = DATA.site;
  var zoneSite = {}, zoneById = {}, queueById = {}, windowById = {};
  DATA.zones.forEach(function (z) { zoneSite[z.id] = z.site; zoneById[z.id] = z; });
  DATA.queues.forEach(function (q) { queueById[q.id] = q; });
  DATA.windows.forEach(function (w) { windowById[w.id] = w; });
  var SHOWN_STATUSES = { called: 1, serving: 1, done: 1, no_show: 1 };
  var STATUS_LABEL = { called: "请前往", serving: "办理中", done: "已办结", no_show: "已过号" };
  var RECENT = 8;

  var state = { calls: [], queues: {}, windows: {} };
  var $ = function (id) { return document.getElementById(id); };
  var body = document.body;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function onSite(zoneId) { return !SITE || zoneSite[zoneId] === SITE; }

  /* 张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧**明: a public screen never shows a whole name. */
  function maskName(name) {
    var chars = Array.from(String(name || "").trim());
    if (chars.length <= 1) return chars.join("");
    if (chars.length === 2) return chars[0] + "*";
    return chars[0] + "*".repeat(chars.length - 2) + chars[chars.length - 1];
  }
  window.__maskName = maskName;

  // ------------------------------------------------------------------ voice
  var voice = new window.OneWindowAnnouncer({
    base: DATA.voice.base,
    languages: DATA.voice.languages,
    repeat: DATA.voice.repeat,
    onStart: function (item) {
      var now = state.calls[0];
      if (now && now.number === item.number && item.rep > 1) flash($("now"));
    },
    onBlocked: function (blocked) { $("sound").hidden = !blocked; },
  });
  document.addEventListener("click", function () { voice.unlock(); $("sound").hidden = true; });
  document.addEventListener("keydown", function () { voice.unlock(); });

  // ------------------------------------------------------------------ rendering
  function flash(node) {
    node.classList.remove("flash");
    void node.offsetWidth;  // restart the animation
    node.classList.add("flash");
  }

  function windowLabel(n) { return n + " 号窗口"; }

  // Outside ticket hours the screen says when tickets start again; a demo server labels itself.
  function showHours(hours) {
    $("demo-label").hidden = !hours.demo;
    var closed = !hours.open;
    $("closed").hidden = !closed;
    document.body.classList.toggle("hall-closed", closed);
    if (!closed) return;
    var when = hours.opens || {};
    ["zh", "bo", "en"].forEach(function (lang) {
      var tpl = (DATA.i18n[lang] && DATA.i18n[lang].closed) || "";
      $("closed").querySelector(".closed-" + lang).textContent = tpl.replace("{opens}", when[lang] || "—");
    });
  }
  function checkHours() {
    fetch("/display/hours", { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (h) { if (h) showHours(h); }, function () { /* offline: the banner says so */ });
  }
  checkHours();
  setInterval(checkHours, 60000);
  /** The call line in a language of config/i18n (hall.call), e.g. Tibetan under the Chinese one. */
  function callLine(lang, c) {
    var tpl = (DATA.i18n && DATA.i18n[lang] && DATA.i18n[lang].call) || "";
    return tpl.replace("{number}", c.number).replace("{window}", c.window_number);
  }

  function renderCalls(highlight) {
    var now = state.calls[0];
    var nowEl = $("now");
    if (!now) {
      nowEl.classList.add("empty");
      $("now-number").textContent = "—";
      $("now-window").textContent = "";
      $("now-window-bo").textContent = "";
      $("now-name").textContent = "";
      nowEl.removeAttribute("data-number");
    } else {
      nowEl.classList.remove("empty");
      $("now-number").textContent = now.number;
      $("now-window").textContent = now.window_number ? "请到 " + windowLabel(now.window_number) + "办理" : "";
      $("now-window-en").textContent = now.window_number ? "Please go to window " + now.window_number : "";
      $("now-window-bo").textContent = now.window_number ? callLine("bo", now) : "";
      $("now-name").textContent = DATA.show_names && now.person_label ? maskName(now.person_label) : "";
      nowEl.dataset.number = now.number;
      nowEl.dataset.window = now.window_number || "";
      if (highlight) flash(nowEl);
    }
    var list = $("recent");
    list.textContent = "";
    state.calls.slice(1, RECENT + 1).forEach(function (c) {
      var li = el("li", "call status-" + c.status);
      li.dataset.number = c.number;
      li.appendChild(el("span", "num", c.number));
      li.appendChild(el("span", "arrow", "→"));
      li.appendChild(el("span", "win", c.window_number ? windowLabel(c.window_number) : ""));
      li.appendChild(el("span", "st", STATUS_LABEL[c.status] || ""));
      if (DATA.show_names && c.person_label) li.appendChild(el("span", "name", maskName(c.person_label)));
      list.appendChild(li);
    });
  }

  function renderQueues() {
    var box = $("zones");
    box.textContent = "";
    DATA.zones.forEach(function (z) {
      if (!onSite(z.id)) return;
      var qs = DATA.queues.filter(function (q) { return q.zone === z.id && state.queues[q.id]; });
      if (!qs.length) return;
      var total = qs.reduce(function (n, q) { return n + (state.queues[q.id].waiting || 0); }, 0);
      var group = el("div", "zone");
      group.dataset.zone = z.id;
      if (qs.length > 1) {  // a zone of one queue needs no heading: the queue's name says it
        var head = el("div", "zone-head");
        head.appendChild(el("span", "zone-name", z.name.zh));
        head.appendChild(el("span", "zone-total", "共 " + total + " 人"));
        group.appendChild(head);
      }
      qs.forEach(function (q) {
        var s = state.queues[q.id];
        var row = el("div", "queue" + (s.waiting ? "" : " none"));
        row.dataset.queue = q.id;
        row.appendChild(el("span", "prefix", q.prefix));
        var name = el("span", "qname", q.name.zh);
        if (q.name.bo) name.appendChild(el("small", "bo", q.name.bo));
        row.appendChild(name);
        row.appendChild(el("span", "count", String(s.waiting)));
        row.appendChild(el("span", "unit", "人等候"));
        row.appendChild(el("span", "est", s.waiting && s.estimated_wait_min != null ?
          "约 " + Math.round(s.estimated_wait_min) + " 分钟" : ""));
        group.appendChild(row);
      });
      box.appendChild(group);
    });
  }

  function renderWindows() {
    var list = $("paused");
    list.textContent = "";
    var paused = Object.keys(state.windows).map(function (k) { return state.windows[k]; })
      .filter(function (w) { return w.status === "paused" && onSite(w.zone_id || (windowById[w.window_id] || {}).zone); })
      .sort(function (a, b) { return a.number - b.number; });
    paused.forEach(function (w) {
      var li = el("li", "paused-window");
      li.dataset.window = w.window_id;
      li.appendChild(el("span", "wnum", windowLabel(w.number)));
      li.appendChild(el("span", "wstatus", "暂停服务"));
      if (w.pause_reason) li.appendChild(el("span", "wreason", w.pause_reason));
      list.appendChild(li);
    });
    $("paused-box").classList.toggle("none", !paused.length);
  }

  // ------------------------------------------------------------------ state changes
  function upsertCall(t, toTop) {
    var i = state.calls.findIndex(function (c) { return c.id === t.id; });
    var old = i >= 0 ? state.calls.splice(i, 1)[0] : null;
    var merged = Object.assign({}, old || {}, t);
    if (toTop || !old) state.calls.unshift(merged);
    else state.calls.splice(i, 0, merged);
    state.calls.length = Math.min(state.calls.length, 30);
  }
  function removeCall(id) {
    state.calls = state.calls.filter(function (c) { return c.id !== id; });
  }

  // returns a call to announce, if the event is one
  function apply(type, p) {
    switch (type) {
      case "ticket_called":
      case "ticket_recalled":
        if (!onSite(p.zone_id)) return null;
        upsertCall(p, true);
        return { number: p.number, window: p.window_number, id: p.id };
      case "ticket_started":
      case "ticket_finished":
      case "ticket_no_show":
        if (state.calls.some(function (c) { return c.id === p.id; })) upsertCall(p, false);
        return null;
      case "ticket_held":
      case "ticket_transferred":
      case "ticket_requeued":
      case "ticket_cancelled":
        removeCall(p.id);
        return null;
      case "window_state":
        state.windows[p.window_id] = p;
        return null;
      case "queue_stats":
        (p.queues || []).forEach(function (q) { state.queues[q.queue_id] = q; });
        return null;
      default:
        return null;
    }
  }

  function onSnapshot(snap) {
    state.calls = (snap.recent_calls || []).filter(function (c) {
      return SHOWN_STATUSES[c.status] && onSite(c.zone_id);
    });
    state.queues = {};
    (snap.queues || []).forEach(function (q) { state.queues[q.queue_id] = q; });
    state.windows = {};
    (snap.windows || []).forEach(function (w) { state.windows[w.window_id] = w; });
    renderAll(false);
  }

  function renderAll(highlight) {
    renderCalls(highlight);
    renderQueues();
    renderWindows();
    body.dataset.seq = feed.seq === null ? "" : String(feed.seq);
  }

  function onEvent(type, p) {
    var call = apply(type, p);
    if (call) {
      renderCalls(true);
      voice.announce(call.number, call.window);
    } else if (type === "queue_stats") renderQueues();
    else if (type === "window_state") renderWindows();
    else if (/^ticket_/.test(type)) renderCalls(false);
    body.dataset.seq = String(p.seq);
  }

  // Missed events after a reconnect: apply all in order; announce only calls still waiting for their visitor
  // (not started, finished or moved since), at most the last three, so a long outage does not flood the hall.
  function onBatch(events) {
    var calls = [];
    events.forEach(function (ev) {
      var c = apply(ev.type, ev.payload);
      if (c) calls.push(c);
    });
    var still = calls.filter(function (c, i) {
      var cur = state.calls.find(function (x) { return x.id === c.id; });
      var later = calls.slice(i + 1).some(function (d) { return d.id === c.id; });
      return cur && cur.status === "called" && !later;
    }).slice(-3);
    renderAll(calls.length > 0);
    still.forEach(function (c) { voice.announce(c.number, c.window); });
  }

  // ------------------------------------------------------------------ clock and notice
  var fmt = new Intl.DateTimeFormat("zh-CN", { timeZone: DATA.hall.timezone, hour: "2-digit", minute: "2-digit",
                                               hour12: false });
  var dfmt = new Intl.DateTimeFormat("zh-CN", { timeZone: DATA.hall.timezone, month: "long", day: "numeric",
                                                weekday: "long" });
  function tick() {
    var d = new Date();
    $("clock-time").textContent = fmt.format(d);
    $("clock-date").textContent = dfmt.format(d);
  }
  tick();
  setInterval(tick, 5000);

  (function notice() {
    var n = DATA.hall.notice;
    var box = $("notice");
    if (!n) { box.parentNode.hidden = true; return; }
    [["zh", n.zh], ["bo", n.bo], ["en", n.en]].forEach(function (pair) {
      if (pair[1]) { var s = el("span", "notice-" + pair[0], pair[1]); s.lang = pair[0]; box.appendChild(s); }
    });
    var chars = (n.zh || "").length + (n.bo || "").length / 2 + (n.en || "").length / 2;
    box.style.animationDuration = Math.max(30, Math.round(chars * 0.35)) + "s";
  })();

  // ------------------------------------------------------------------ live feed
  var feed = new window.OneWindowLive.LiveFeed({
    contiguous: true,
    stream: "hall",
    hallId: DATA.hall.id,
    onSnapshot: onSnapshot,
    onEvent: onEvent,
    onBatch: onBatch,
    onStatus: (function () {
      var banner = window.OneWindowLive.bindBanner(null, $("offline"), body);
      var wasDown = false;
      return function (s) {
        banner(s);
        if (s === "disconnected") wasDown = true;
        if (s === "live" && wasDown) { wasDown = false; window.OneWindowLive.reloadIfUpgraded(DATA.asset_version); }
      };
    })(),
  });
  window.__hall = { feed: feed, state: state, voice: voice };
  feed.start();
})();
