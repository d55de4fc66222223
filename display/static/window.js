/* The window-top screen: window number, staff name and photo (when the hall config has them), the current
 * number, and "暂停服务" when paused. Follows the window's room; reloads its state on every (re)connect. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("screen-data").textContent);
  var W = DATA.window;
  var $ = function (id) { return document.getElementById(id); };
  var STATUS = {
    open: ["", ""],
    paused: ["暂停服务", "Service paused"],
    closed: ["未开窗", "Window closed"],
    closed_for_day: ["今日已停止服务", "Closed for today"],
  };
  var view = null, viewSeq = 0;

  (function staff() {
    var s = W.staff;
    // No staff named in the config: no staff slot (the header already names the window; repeating it under
    // "工作人员" misled citizens).
    $("wt-staff-name").textContent = s && s.name ? s.name : "";
    $("wt-staff").hidden = !(s && s.name);
    if (s && s.photo) {
      var img = document.createElement("img");
      img.src = s.photo;
      img.alt = s.name || "";
      $("wt-photo").classList.remove("placeholder");
      $("wt-photo").appendChild(img);
    }
  })();

  function flash() {
    var n = $("wt-current");
    n.classList.remove("flash");
    void n.offsetWidth;
    n.classList.add("flash");
  }

  function render() {
    var main = $("wt");
    var status = view ? view.status : "closed";
    main.dataset.status = status;
    var cur = view && view.current;
    $("wt-current").textContent = cur && status !== "closed_for_day" ? cur.number : "—";
    var note = "";
    if (cur && cur.status === "called") note = "请 " + cur.number + " 号到本窗口办理";
    else if (cur && cur.status === "serving") note = "正在办理 · Serving";
    $("wt-current-note").textContent = note;
    var st = STATUS[status] || ["", ""];
    $("wt-status-zh").textContent = st[0];
    $("wt-status-en").textContent = st[1];
    $("wt-reason").textContent = status === "paused" && view.pause_reason ? view.pause_reason : "";
    $("wt-status").hidden = !st[0];
  }

  function loadState() {
    return fetch("/api/v1/snapshot", { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("snapshot: HTTP " + r.status);
      return r.json();
    }).then(function (snap) {
      var w = (snap.windows || []).find(function (x) { return x.window_id === W.id; });
      if (w) view = w;
      viewSeq = snap.seq;
      render();
    });
  }

  function onEvent(type, p) {
    if (typeof p.seq === "number" && p.seq <= viewSeq) return;   // already in the state we loaded
    if (type === "window_state" && p.window_id === W.id) {
      view = p;
      viewSeq = p.seq;
      render();
    } else if ((type === "ticket_called" || type === "ticket_recalled") && p.window_id === W.id) {
      view = Object.assign({}, view || {}, { current: p });
      render();
      flash();
    }
  }

  var banner = window.OneWindowLive.bindBanner(null, $("offline"), document.body);
  var wasDown = false;
  var feed = new window.OneWindowLive.LiveFeed({
    contiguous: false,
    stream: "window:" + W.id,
    onConnected: loadState,
    onEvent: onEvent,
    onStatus: function (s) {
      banner(s);
      if (s === "disconnected") wasDown = true;
      if (s === "live" && wasDown) { wasDown = false; window.OneWindowLive.reloadIfUpgraded(DATA.asset_version); }
    },
    checkEveryMs: 60000,
  });
  window.__window = { feed: feed };
  render();
  feed.start();
})();
