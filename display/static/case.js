/* The citizen's case page (/case/<token>, the QR on every notice): the progress of this one application —
 * received, correction with the full missing list, accepted (容缺 deadline), in review, decided, ready for
 * collection or sent by courier, collected — with the promised deadline the server computed in working days.
 * Read-only but for one thing the API offers the citizen: a pick-up ticket in the issuance queue.
 * Everything comes from the page's own data and GET /case/<token>/status; nothing about anyone else. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("screen-data").textContent);
  var TOKEN = DATA.token;
  var $ = function (id) { return document.getElementById(id); };
  var PHONE = DATA.hall.complaint_phone;

  var I = new window.OneWindowI18n(DATA.i18n);
  var HALL = DATA.hall.name;
  var kase = DATA.case, updatedAt = new Date(), stale = false, ticket = (DATA.case && DATA.case.issuance_ticket) || loadTicket(), taking = false, takeError = false;

  function fmtDate(iso) { return I.date(iso); }
  function fmtDateTime(iso) {  // local times as the server wrote them (2026-11-26T09:30:00+08:00)
    var m = /T(\d{2}:\d{2})/.exec(iso || "");
    return fmtDate(iso) + (m ? " " + m[1] : "");
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function list(items) {
    var ul = el("ul");
    items.forEach(function (n) { ul.appendChild(el("li", null, n)); });
    return ul;
  }

  function loadTicket() {
    try { return JSON.parse(localStorage.getItem("onewindow.pickup." + TOKEN) || "null"); } catch (e) { return null; }
  }
  function saveTicket(t) {
    try { localStorage.setItem("onewindow.pickup." + TOKEN, JSON.stringify(t)); } catch (e) { /* ignore */ }
  }

  // The step the case is at (earlier ones are done): 收件 0, 受理 1, 审批 2, 办结 3, 出件 4; 5 = all done.
  var STEP = { received: 1, correction: 1, accepted: 2, suspended: 2, ready: 4, issued: 5 };

  function statusText(L, c) {
    if (c.status === "issued" && c.delivery && c.delivery.method === "courier") return I.raw("status.issued_courier");
    return I.raw("status." + c.status) || c.status_zh || c.status;
  }

  function detail(L, c) {
    var box = $("cs-detail");
    box.textContent = "";
    var add = function (node) { node.classList.add("cs-block"); box.appendChild(node); return node; };
    if (c.status === "received") add(el("p", null, I.t("received")));
    if (c.status === "correction") {
      var w = add(el("div", "cs-warn"));
      w.id = "cs-correction";
      w.appendChild(el("h2", null, I.t("correction_title")));
      w.appendChild(list(c.missing || []));
      w.appendChild(el("p", null, I.t("correction_note")));
    }
    var d = c.deficiency;
    if (d && (c.status === "accepted" || c.status === "suspended")) {
      if (d.supplied) {
        add(el("p", null, I.t("deficiency_done")));
      } else {
        var k = add(el("div", "cs-warn"));
        k.id = "cs-deficiency";
        k.appendChild(el("h2", null, d.supply_by ? I.t("deficiency_title", { date: fmtDate(d.supply_by) }) : I.t("deficiency_undated")));
        k.appendChild(list(d.names || []));
      }
    }
    if (c.status === "suspended") add(el("p", null, I.t("suspended")));
    if ((c.status === "ready" || c.status === "issued") && c.decision) {
      add(el("p", null, c.decision === "approved" ? I.t("approved") : I.t("denied"))).id = "cs-decision";
    }
    if (c.status === "issued") {
      var dv = c.delivery || {};
      if (dv.method === "courier") {
        var p = add(el("div", "cs-warn"));
        p.id = "cs-courier";
        p.appendChild(el("p", null, dv.carrier ? I.t("issued_courier_carrier", { carrier: dv.carrier }) : I.t("issued_courier")));
        if (dv.tracking_number) {
          var line = el("p");
          line.appendChild(document.createTextNode(I.t("tracking") + (I.lang === "en" ? ": " : "：")));
          line.appendChild(el("strong", null, dv.tracking_number)).id = "cs-tracking";
          p.appendChild(line);
        }
      } else {
        add(el("p", null, I.t("issued_window")));
      }
    }
    if (c.status === "rejected") add(el("p", null, I.t("rejected")));
    if (c.status === "withdrawn") add(el("p", null, I.t("withdrawn")));
  }

  function facts(L, c) {
    var dl = $("cs-facts");
    dl.textContent = "";
    var fact = function (key, label, value, wide) {
      if (value == null || value === "") return;
      var div = el("div", wide ? "wide" : null);
      div.dataset.fact = key;
      div.appendChild(el("dt", null, label));
      div.appendChild(el("dd", null, value));
      dl.appendChild(div);
    };
    var immediate = c.kind === "immediate";
    fact("applicant", I.t("applicant"), c.applicant);
    fact("department", I.t("department"), c.department_name);
    fact("received_at", I.t("received_at"), c.received_at ? fmtDateTime(c.received_at) : null);
    fact("accepted_at", I.t("accepted_at"), c.accepted_at ? fmtDateTime(c.accepted_at) : null);
    if (immediate) {
      fact("promised", I.t("promised"), I.t("immediate"));
    } else if (c.promised_days != null && c.status !== "rejected" && c.status !== "withdrawn") {
      fact("promised", I.t("promised"), I.t("days", { n: c.promised_days }));
    }
    if (!immediate && c.due_on) fact("due", I.t("due"), fmtDate(c.due_on));
    if (c.workdays_left != null) fact("left", I.t("left"), leftDays(c.workdays_left));
  }

  function steps(L, c) {
    var ol = $("cs-steps");
    ol.textContent = "";
    var at = STEP[c.status];
    ol.hidden = at == null;  // not accepted, withdrawn: no path to show
    if (at == null) return;
    I.raw("steps").forEach(function (name, i) {
      var li = el("li", i < at ? "done" : i === at ? "current" : null, name);
      if (i === at) li.setAttribute("aria-current", "step");
      ol.appendChild(li);
    });
  }

  function collect(L, c) {
    var ready = c.status === "ready";
    $("cs-collect").hidden = !ready;
    if (!ready) return;
    var ws = c.issuance_windows || [];
    $("cs-collect-text").textContent = ws.length ? I.t("collect_windows", { windows: ws.join(I.raw("list_sep")) }) : I.t("collect_any");
    var has = !!(ticket && ticket.number);
    $("cs-ticket").hidden = !has;
    if (has) {
      $("cs-ticket-number").textContent = ticket.number;
      $("cs-ticket-link").href = "/t/" + encodeURIComponent(ticket.tracker_token) + "?lang=" + I.lang;
    }
    var btn = $("cs-take-ticket");
    btn.hidden = has;
    btn.disabled = taking;
    btn.textContent = taking ? I.t("taking") : I.t("take_ticket");
    $("cs-collect-error").hidden = !takeError;
    $("cs-collect-error").textContent = takeError ? I.t("ticket_error") : "";
  }

  function evaluation(L, c) {
    var ev = c.evaluation;
    $("cs-eval").hidden = !ev;
    if (!ev) return;
    $("cs-eval-text").textContent = ev.rated ? I.t("eval_done") : I.t("eval_open");
    var a = $("cs-eval-link");
    a.hidden = !!ev.rated;
    a.href = ev.url + "?lang=" + I.lang;
  }

  function leftDays(n) {
    return n > 0 ? I.t("left_days", { n: n }) : n === 0 ? I.t("due_today") : I.t("overdue");
  }

  function render() {
    var L = null;
    I.apply();
    $("cs-note").textContent = I.t("note") + (PHONE ? " " + I.t("note_phone", { phone: PHONE }) : "");
    document.querySelector("[data-i18n-name=hall]").textContent = HALL[I.lang] || HALL.zh;
    var c = kase;
    $("cs-card").dataset.status = c.status;
    $("cs-number").textContent = c.number;
    I.name($("cs-item"), c.item_names, c.item_name);
    $("cs-status").textContent = statusText(L, c);
    steps(L, c);
    detail(L, c);
    facts(L, c);
    collect(L, c);
    evaluation(L, c);
    $("cs-updated").textContent = updatedAt.toLocaleTimeString(I.lang === "en" ? "en-GB" : "zh-CN",
      { hour: "2-digit", minute: "2-digit", hour12: false });
    $("cs-stale").hidden = !stale;
  }

  document.querySelectorAll(".tr-lang button").forEach(function (b) {
    b.addEventListener("click", function () {
      I.set(b.dataset.lang);
      render();
    });
  });

  var inflight = null;
  function refresh() {
    if (inflight) return inflight;
    inflight = fetch("/case/" + encodeURIComponent(TOKEN) + "/status", { cache: "no-store" }).then(function (r) {
      if (r.status === 404) { location.reload(); return null; }
      if (!r.ok) throw new Error("case: HTTP " + r.status);
      return r.json();
    }).then(function (body) {
      if (!body) return;
      kase = body.case;
      if (kase.issuance_ticket) ticket = kase.issuance_ticket;  // the server knows the ticket already taken
      updatedAt = new Date();
      stale = false;
      render();
    }).catch(function () {
      stale = true;
      render();
    }).finally(function () { inflight = null; });
    return inflight;
  }

  $("cs-take-ticket").addEventListener("click", function () {
    if (taking) return;
    taking = true;
    takeError = false;
    render();
    fetch("/api/v1/case-tracker/" + encodeURIComponent(TOKEN) + "/issuance-ticket", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: "{}", cache: "no-store",
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok || !body.ticket) throw new Error("issuance-ticket: HTTP " + r.status);
        ticket = { number: body.ticket.number, tracker_token: body.ticket.tracker_token };
        saveTicket(ticket);
        if (body.case && body.case.status) kase.status = body.case.status;
      });
    }).catch(function () {
      takeError = true;
    }).finally(function () {
      taking = false;
      render();
    });
  });

  // Progress changes a few times over days: look again every minute while the page is in front, and at once when
  // the citizen comes back to it.
  setInterval(function () { if (document.visibilityState === "visible") refresh(); }, 60000);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") refresh(); });
  document.body.dataset.live = "static";
  render();
  window.__casePage = { refresh: refresh, render: render };
})();
