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
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  var T = {
    zh: {
      hall: DATA.hall.name.zh,
      case_number: "办件编号", updated: "更新于", stale: "（暂时无法更新）", collect_title: "如何领取",
      ticket_label: "您的出件号", ticket_link: "查看排队进度", take_ticket: "取出件号（排队领取）",
      taking: "正在取号…", evaluate: "评价本次服务",
      note: "本页只显示这件申请的办理进度，不能更改申请。" + (PHONE ? "如有疑问请拨打 " + PHONE + "。" : ""),
      steps: ["收件", "受理", "审批", "办结", "出件"],
      status: {
        received: "已收件，正在核对材料", correction: "请补齐补正材料", accepted: "已受理，审批中",
        suspended: "审批中（特别程序，时限暂停）", ready: "已办结，请领取结果", issued: "已领取",
        issued_courier: "已通过快递寄出", rejected: "不予受理", withdrawn: "已撤回",
      },
      received: "窗口正在核对您提交的材料，核对后决定是否受理。",
      correction_title: "请补齐以下材料后，再到窗口提交：",
      correction_note: "以上是需要补齐补正的全部材料（一次性告知）。",
      deficiency_title: function (d) { return "容缺受理：请在 " + fmtDate(d) + " 前补交以下材料："; },
      deficiency_undated: "容缺受理：请尽快补交以下材料：",
      deficiency_done: "容缺材料已补齐。",
      suspended: "因听证、检验检测或专家评审等特别程序，办理时限暂停计算；恢复后承诺办结日期相应顺延。",
      approved: "审批结果：准予许可。", denied: "审批结果：不予许可，理由见书面决定。",
      issued_window: "办理结果已领取。",
      issued_courier: function (d) {
        return "办理结果已通过快递寄出" + (d.carrier ? "（" + d.carrier + "）" : "") + "。";
      },
      tracking: "快递单号",
      rejected: "您的申请不予受理。理由、依据以及申请行政复议或提起行政诉讼的权利，见《不予受理通知书》。",
      withdrawn: "本申请已撤回。",
      applicant: "申请人", department: "承办部门", received_at: "收件时间", accepted_at: "受理时间",
      promised: "承诺时限", due: "承诺办结日期", left: "剩余时间",
      immediate: "即办件",
      days: function (n) { return n + " 个工作日"; },
      left_days: function (n) {
        return n > 0 ? "还剩 " + n + " 个工作日" : n === 0 ? "今天到期" : "已超过承诺时限";
      },
      collect: function (w) {
        return "请携带通知书和本人身份证件（他人代领需带委托书）到" +
          (w.length ? " " + w.join("、") + " 号统一出件窗口" : "统一出件窗口") + "领取。可先取出件号排队。";
      },
      ticket_error: "暂时无法取号，请到大厅自助终端或服务台取号。",
      eval_open: "欢迎您对本次服务进行评价（好差评）。",
      eval_done: "您已评价本次服务，感谢您的参与。",
      date: function (y, m, d) { return y + "年" + m + "月" + d + "日"; },
    },
    en: {
      hall: DATA.hall.name.en || DATA.hall.name.zh,
      case_number: "Case number", updated: "Updated", stale: "(cannot update right now)",
      collect_title: "How to collect", ticket_label: "Your pick-up number", ticket_link: "See your place in the queue",
      take_ticket: "Take a pick-up ticket", taking: "Taking a ticket…", evaluate: "Rate this service",
      note: "This page only shows the progress of this application; it cannot change anything." +
        (PHONE ? " Questions: call " + PHONE + "." : ""),
      steps: ["Received", "Accepted", "Review", "Decided", "Collected"],
      status: {
        received: "Received — materials being checked", correction: "Please complete your materials",
        accepted: "Accepted — under review", suspended: "Under review (special procedure, clock stopped)",
        ready: "Decided — please collect your result", issued: "Collected",
        issued_courier: "Sent by courier", rejected: "Not accepted", withdrawn: "Withdrawn",
      },
      received: "The window is checking the materials you handed in and will then decide whether to accept them.",
      correction_title: "Please bring these materials to the window:",
      correction_note: "This is everything that is missing (told all at once).",
      deficiency_title: function (d) { return "Accepted with materials to follow: please hand these in by " + fmtDate(d) + ":"; },
      deficiency_undated: "Accepted with materials to follow: please hand these in soon:",
      deficiency_done: "The outstanding materials have been handed in.",
      suspended: "A hearing, test or expert review is under way: the clock is stopped and the promised date moves " +
        "back accordingly.",
      approved: "Decision: approved.", denied: "Decision: not approved; the reasons are in the written decision.",
      issued_window: "Your result has been collected.",
      issued_courier: function (d) { return "Your result has been sent by courier" + (d.carrier ? " (" + d.carrier + ")" : "") + "."; },
      tracking: "Tracking number",
      rejected: "Your application was not accepted. The reasons, the legal basis and your right to an administrative " +
        "review or a lawsuit are in the written notice.",
      withdrawn: "This application was withdrawn.",
      applicant: "Applicant", department: "Department", received_at: "Received", accepted_at: "Accepted",
      promised: "Promised time", due: "Promised by", left: "Time left",
      immediate: "Decided on the spot",
      days: function (n) { return n === 1 ? "1 working day" : n + " working days"; },
      left_days: function (n) {
        return n > 0 ? (n === 1 ? "1 working day" : n + " working days") : n === 0 ? "Due today" : "Past the promised date";
      },
      collect: function (w) {
        return "Bring your notice and your ID card (a proxy also needs a letter of authorisation) to " +
          (w.length ? "window " + w.join(", ") + " (results pick-up)" : "the results pick-up window") +
          ". You can take a pick-up ticket first.";
      },
      ticket_error: "No ticket right now — please take one at a kiosk or the service desk in the hall.",
      eval_open: "Please tell us how we did.",
      eval_done: "You have rated this service — thank you.",
      date: function (y, m, d) { return d + " " + MONTHS[m - 1] + " " + y; },
    },
  };
  // Tibetan: the hall's name comes from the config; interface text falls back to Chinese until translated strings
  // are provided (as on the ticket tracker).
  T.bo = Object.assign({}, T.zh, { hall: DATA.hall.name.bo || DATA.hall.name.zh });

  var saved = null;
  try { saved = localStorage.getItem("onewindow.lang"); } catch (e) { /* private mode */ }
  var navLang = (navigator.language || "zh").slice(0, 2);
  var lang = T[saved] ? saved : (navLang === "bo" ? "bo" : navLang === "en" ? "en" : "zh");
  var kase = DATA.case, updatedAt = new Date(), stale = false, ticket = (DATA.case && DATA.case.issuance_ticket) || loadTicket(), taking = false, takeError = false;

  function fmtDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    return m ? T[lang].date(+m[1], +m[2], +m[3]) : (iso || "—");
  }
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
    if (c.status === "issued" && c.delivery && c.delivery.method === "courier") return L.status.issued_courier;
    return L.status[c.status] || c.status_zh || c.status;
  }

  function detail(L, c) {
    var box = $("cs-detail");
    box.textContent = "";
    var add = function (node) { node.classList.add("cs-block"); box.appendChild(node); return node; };
    if (c.status === "received") add(el("p", null, L.received));
    if (c.status === "correction") {
      var w = add(el("div", "cs-warn"));
      w.id = "cs-correction";
      w.appendChild(el("h2", null, L.correction_title));
      w.appendChild(list(c.missing || []));
      w.appendChild(el("p", null, L.correction_note));
    }
    var d = c.deficiency;
    if (d && (c.status === "accepted" || c.status === "suspended")) {
      if (d.supplied) {
        add(el("p", null, L.deficiency_done));
      } else {
        var k = add(el("div", "cs-warn"));
        k.id = "cs-deficiency";
        k.appendChild(el("h2", null, d.supply_by ? L.deficiency_title(d.supply_by) : L.deficiency_undated));
        k.appendChild(list(d.names || []));
      }
    }
    if (c.status === "suspended") add(el("p", null, L.suspended));
    if ((c.status === "ready" || c.status === "issued") && c.decision) {
      add(el("p", null, c.decision === "approved" ? L.approved : L.denied)).id = "cs-decision";
    }
    if (c.status === "issued") {
      var dv = c.delivery || {};
      if (dv.method === "courier") {
        var p = add(el("div", "cs-warn"));
        p.id = "cs-courier";
        p.appendChild(el("p", null, L.issued_courier(dv)));
        if (dv.tracking_number) {
          var line = el("p");
          line.appendChild(document.createTextNode(L.tracking + "："));
          line.appendChild(el("strong", null, dv.tracking_number)).id = "cs-tracking";
          p.appendChild(line);
        }
      } else {
        add(el("p", null, L.issued_window));
      }
    }
    if (c.status === "rejected") add(el("p", null, L.rejected));
    if (c.status === "withdrawn") add(el("p", null, L.withdrawn));
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
    fact("applicant", L.applicant, c.applicant);
    fact("department", L.department, c.department_name);
    fact("received_at", L.received_at, c.received_at ? fmtDateTime(c.received_at) : null);
    fact("accepted_at", L.accepted_at, c.accepted_at ? fmtDateTime(c.accepted_at) : null);
    if (immediate) {
      fact("promised", L.promised, L.immediate);
    } else if (c.promised_days != null && c.status !== "rejected" && c.status !== "withdrawn") {
      fact("promised", L.promised, L.days(c.promised_days));
    }
    if (!immediate && c.due_on) fact("due", L.due, fmtDate(c.due_on));
    if (c.workdays_left != null) fact("left", L.left, L.left_days(c.workdays_left));
  }

  function steps(L, c) {
    var ol = $("cs-steps");
    ol.textContent = "";
    var at = STEP[c.status];
    ol.hidden = at == null;  // not accepted, withdrawn: no path to show
    if (at == null) return;
    L.steps.forEach(function (name, i) {
      var li = el("li", i < at ? "done" : i === at ? "current" : null, name);
      if (i === at) li.setAttribute("aria-current", "step");
      ol.appendChild(li);
    });
  }

  function collect(L, c) {
    var ready = c.status === "ready";
    $("cs-collect").hidden = !ready;
    if (!ready) return;
    $("cs-collect-text").textContent = L.collect(c.issuance_windows || []);
    var has = !!(ticket && ticket.number);
    $("cs-ticket").hidden = !has;
    if (has) {
      $("cs-ticket-number").textContent = ticket.number;
      $("cs-ticket-link").href = "/t/" + encodeURIComponent(ticket.tracker_token);
    }
    var btn = $("cs-take-ticket");
    btn.hidden = has;
    btn.disabled = taking;
    btn.textContent = taking ? L.taking : L.take_ticket;
    $("cs-collect-error").hidden = !takeError;
    $("cs-collect-error").textContent = takeError ? L.ticket_error : "";
  }

  function evaluation(L, c) {
    var ev = c.evaluation;
    $("cs-eval").hidden = !ev;
    if (!ev) return;
    $("cs-eval-text").textContent = ev.rated ? L.eval_done : L.eval_open;
    var a = $("cs-eval-link");
    a.hidden = !!ev.rated;
    a.href = ev.url;
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
    var c = kase;
    $("cs-card").dataset.status = c.status;
    $("cs-number").textContent = c.number;
    $("cs-item").textContent = c.item_name || "";
    $("cs-status").textContent = statusText(L, c);
    steps(L, c);
    detail(L, c);
    facts(L, c);
    collect(L, c);
    evaluation(L, c);
    $("cs-updated").textContent = updatedAt.toLocaleTimeString(lang === "en" ? "en-GB" : "zh-CN",
      { hour: "2-digit", minute: "2-digit", hour12: false });
    $("cs-stale").hidden = !stale;
  }

  document.querySelectorAll(".tr-lang button").forEach(function (b) {
    b.addEventListener("click", function () {
      lang = b.dataset.lang;
      try { localStorage.setItem("onewindow.lang", lang); } catch (e) { /* ignore */ }
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
